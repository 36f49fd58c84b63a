package dev.spanheap.internal;

import java.lang.invoke.VarHandle;

/**
 * A thread's cache of free objects (Go's mcache, TCMalloc's ThreadCache): for each size class a
 * stack of object addresses the owning thread allocates from and frees to with no lock and no
 * atomic. This is the top rung of the allocation ladder; see package-info.
 *
 * <p>The fast paths {@link #allocate} and {@link #free} are a few array operations and report a miss
 * with 0 or false; the caller then takes {@link #refill} or {@link #overflow}, which talk to the
 * central lists in batches.
 *
 * <p>Bounds: class {@code c} holds at most {@code limit(c)} objects. Limits start at zero and grow
 * on the first miss to 128 bytes' worth of objects (see {@link #FIRST_LIMIT}), then by one object
 * per miss up to the class's batch, then by a batch, up to {@link #MAX_DEPTH} ("slow start", as
 * TCMalloc's free lists grow). Growing is paid for from the cache's byte budget, which
 * it requests from the heap's {@link CacheBudget}: {@code sum(limit(c) * size[c]) <= budgetBytes},
 * the classes above 64 KiB taking at most half the per-cache most ({@link #BIG_CLASS_BYTES}).
 * Freed spans of up to 1 MiB that are not cut into objects (sampled blocks, blocks aligned past a
 * page) are kept whole per length, for the next sampled blocks, in a {@link LargeSpanCache}, paid
 * from its own quarter of the cache's share (at most 1 MiB). Both together stay under the per-cache
 * budget, and the sum over all caches under the heap's total; the classes grow only while the cache
 * holds less than its share of that total (see {@link CacheBudget#shareCap}).
 *
 * <p>Budget moves between classes and between caches through {@link #review reviews} on the owner's
 * slow paths (TCMalloc scavenges its thread caches the same way, when they are full): a cache that
 * could not grow hands the classes it has not used since the previous review back to the central
 * lists, and a cache that holds more than its share (it grew while it was alone) shrinks its largest
 * classes until it fits. The fast paths pay nothing for this.
 *
 * <p>Only the owning thread touches a cache, except after the thread has ended (the registry then
 * flushes it) and for the shared caches that virtual threads use under a lock. Statistics readers
 * read the counters without a lock; they may be a few operations behind.
 */
public final class ThreadCache {

    /** Objects per refill or drain, by class: see {@link TransferBatches}. */
    private static final int[] BATCH = TransferBatches.OBJECTS;
    private static final int MAX_BATCH = TransferBatches.MAX;
    static final int[] MAX_DEPTH = new int[SizeClasses.COUNT];
    /**
     * The limit a class starts at, in objects: as many as fill 128 bytes (two cache lines, which the
     * adjacent-line prefetcher moves together), at least one, at most a batch. A first refill then
     * takes whole lines of a new span, and two threads' first objects of a small class do not share
     * a line: starting at one object, two virtual threads' 16 B pairs on two carriers got objects 0
     * and 1 of one span, and each write went to the other core (110-120 ns a pair against 33-38; a
     * plain loop was slow so in 1 run of 5 before this, in none of 12 after).
     */
    private static final int[] FIRST_LIMIT = new int[SizeClasses.COUNT];
    /**
     * Classes above this size may hold at most half the per-cache budget between them. The default
     * budget (24 MiB, HeapConfig) is sized for buffers of up to 64 KiB, Netty's largest. In
     * NettyPatternBenchmark (8192 live buffers of 0-64 KiB, a random one replaced each time) each
     * class's stack does a random walk, and a deeper stack reaches its ends, where a batch goes to or
     * comes from the central list, less often: with 16 MiB, 3.8% of replacements refilled a class
     * and 2.6% drained one; a replacement took 43.2-43.6 ns through {@code localHeap()} against
     * 37.4-39.6 with 24 MiB and this cap (JMH, two alternating runs of 2 forks). Blocks above 64 KiB
     * fill a budget with few objects and gain little from it (64 KiB-1 MiB pairs ran as fast), while
     * holding that much more memory idle: with 32 MiB and no cap the fragmentation workload
     * (16 B-1 MiB) peaked 10 MiB higher; with 24 MiB and the cap, not at all (317 MiB either way).
     */
    private static final long BIG_CLASS_BYTES = 64 << 10;
    private static final int FIRST_BIG_CLASS = SizeClassLookup.sizeClassOf(BIG_CLASS_BYTES + 1);
    /** The deepest any class's stack may grow, in objects. */
    private static final int MAX_OBJECTS = 256;
    private static final int[] REGION = new int[SizeClasses.COUNT];
    private static final int SLOTS;
    /** Freed large spans of up to this many pages (1 MiB) are kept whole, in {@link #large}. */
    static final int LARGE_CACHED_PAGES = LargeSpanCache.MAX_PAGES;

    /**
     * Longs of padding at both ends of this cache's arrays (a cache line), and the offset of their
     * first used element. A young collection copies the arrays (and this object) of every cache
     * next to each other; unpadded, the words one thread writes on every allocation and free shared
     * cache lines with another thread's: two threads doing 16 B pairs on one heap took 23 ns per
     * pair against 12 padded, and 64 KiB-1 MiB pairs 172 against 81 (JMH, one fork each).
     */
    static final int PAD = 8;
    /** {@code slots[COUNTDOWN]}: the profiler's countdown (the unused ends word of class 0). */
    private static final int COUNTDOWN = PAD;
    /**
     * {@code slots[OWNER]}: {@link #ownerId} (the unused frees word of class 0), so that a thread that
     * finds this array in {@link ThreadSlots}' table checks it is its own without loading this object.
     */
    static final int OWNER = PAD + 1;

    static {
        int slots = PAD + 2 * SizeClasses.COUNT;
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            // Four batches (128 objects) of the classes up to 2 KiB; sixteen of the larger ones
            // (1 MiB, at most 256 objects), whose batches are short and would refill often: 1024
            // mixed blocks of up to 4 KiB otherwise refill and drain the 4 KiB class every round.
            // TCMalloc's lists grow to 8192 objects; here the byte budget is the real bound, and the
            // depth only sizes the preallocated stacks (73 KiB of Java heap per cache).
            MAX_DEPTH[c] = BATCH[c] == MAX_BATCH ? 4 * MAX_BATCH : Math.min(MAX_OBJECTS, 16 * BATCH[c]);
            FIRST_LIMIT[c] = Math.clamp(128 / SizeClasses.SIZE[c], 1, BATCH[c]);
            REGION[c] = slots;
            slots += 1 + MAX_DEPTH[c];
        }
        SLOTS = slots + PAD;
    }

    /**
     * Everything the fast paths touch, in one array so that they load one reference:
     * <ul>
     *   <li>{@code slots[PAD + 2c]}: both ends of class {@code c}'s stack as absolute indices into this
     *       array, the top in the low 32 bits and the first index past the limit in the high 32
     *       ({@code REGION[c] + 1 + limit}). One word, so a pop or push reads one element and moves
     *       the top with one add.</li>
     *   <li>{@code slots[PAD + 2c + 1]}: objects of class {@code c} freed into this cache (statistics),
     *       on the same cache line as the ends.</li>
     *   <li>{@code slots[REGION[c]]}: a sentinel that is always 0, followed by the class's
     *       {@code MAX_DEPTH[c]} stack slots; its objects are {@code slots[REGION[c] + 1 .. top]}.
     *       An empty stack's top is its sentinel, so a pop reads 0 there and needs no other test.</li>
     * </ul>
     */
    private final long[] slots = new long[SLOTS];
    /** Scratch space for objects moving to or from a central list outside the stacks. */
    private final long[] transfer = new long[PAD + MAX_BATCH + PAD];
    /**
     * Per-class counters for statistics, read without a lock by other threads. Only frees are
     * counted on the fast path (in {@link #slots}); allocations follow from conservation of
     * objects, see {@link #mallocs(int)}. {@code received}: objects taken from the central list;
     * {@code returned}: objects given back to it.
     */
    private final long[] received = new long[PAD + SizeClasses.COUNT + PAD];
    private final long[] returned = new long[PAD + SizeClasses.COUNT + PAD];
    /** Freed large spans this thread keeps. */
    private final LargeSpanCache large;
    private final CentralList[] centrals;
    private final CacheBudget budget;
    /**
     * {@link Thread#threadId()} of the owning thread; 0 for the shared stripes. Changes only
     * when a new thread adopts the cache of one that ended ({@link #adopt}).
     */
    long ownerId;
    private long budgetBytes;
    private long classLimitBytes;
    /** Whether this cache counts among the budget's holders (from its first growth to its flush). */
    private boolean holdingBudget;
    /** The sampling rate in effect for this cache's thread; touched only when it samples. */
    final SampleRate sampleRate;
    /**
     * Slow-path events (refills and overflows) between two {@link #review}s. Long enough that a
     * class in use is rarely untouched for a whole interval: with 16, a cache full of random sizes
     * from 0 to 64 KiB (Netty's pattern) kept handing classes back that it needed again at once:
     * 57 and 61 ns per operation against 43 and 50 with no reviews; with 256, 46.0 and 43.3 against
     * 45.2 and 44.2 (JMH, NettyPatternBenchmark, runs of 2 and 3 forks).
     */
    static final int REVIEW_INTERVAL = 256;
    private int untilReview = REVIEW_INTERVAL;
    /** Whether a class failed to grow for want of budget since the last review. */
    private boolean pressed;
    /**
     * Per class {@code c}, at {@code 3c}: its stack word, its frees and the objects it had received
     * at the last review. All three unchanged means the class was not used in between: any
     * allocation moves the top of its stack or, on an empty stack, refills it, and any free counts.
     */
    private final long[] reviewed = new long[3 * SizeClasses.COUNT];
    /**
     * Whether a span this cache sent to the page heap owes the page heap's inline scavenging check,
     * which may call {@code madvise}. A platform thread's cache runs the check at once; a stripe,
     * used under its lock, leaves it here for {@link StripedCaches} to run after the lock is dropped,
     * so that no virtual thread waits for the stripe behind another's system call.
     */
    private boolean scavengeOwed;

    ThreadCache(CentralList[] centrals, CacheBudget budget, long ownerId, PageHeap pageHeap, SampleRate sampleRate,
                long bytesUntilSample) {
        this.centrals = centrals;
        this.sampleRate = sampleRate;
        slots[COUNTDOWN] = bytesUntilSample;
        slots[OWNER] = ownerId;
        this.budget = budget;
        this.ownerId = ownerId;
        this.large = new LargeSpanCache(budget, pageHeap);
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            setStack(c, 0, 0);
        }
    }

    /**
     * Gives this cache, whose thread has ended, to thread {@code newOwner}: its objects, limits and
     * budget go on serving the new thread instead of being flushed, and the new thread allocates no
     * cache of its own. Under the registry's lock, after the cache left the slot table (which finds
     * it by owner) and before it goes back in; the ended thread's writes are visible, since its
     * end was seen.
     */
    void adopt(long newOwner) {
        ownerId = newOwner;
        slots[OWNER] = newOwner;
    }

    /**
     * Subtracts {@code size} from the bytes this thread may still allocate before its next
     * allocation is sampled for the heap profile (Go's {@code mcache.nextSample}) and returns what
     * is left: below zero, this allocation is the sample. Kept in {@link #slots}, which the fast path
     * loads anyway, on a line no other thread writes (see {@link #PAD}).
     */
    long countDownToSample(long size) {
        return countDownToSample(slots, size);
    }

    /** {@link #countDownToSample(long)} on a cache's {@link #fastSlots()}. */
    static long countDownToSample(long[] slots, long size) {
        return slots[COUNTDOWN] -= size;
    }

    /** What {@link #countDownToSample} last left, from a cache's {@link #fastSlots()}. */
    static long bytesUntilSample(long[] slots) {
        return slots[COUNTDOWN];
    }

    /**
     * The array that the fast paths work on (see {@link #slots}): the allocator's fast paths reach
     * it from the thread's slot without loading this object, and use the static forms of
     * {@link #allocate(int)}, {@link #free(int, long)} and {@link #countDownToSample(long)}.
     */
    long[] fastSlots() {
        return slots;
    }

    /** Starts the countdown to the next sample; drawn by {@link HeapProfiler#nextSampleDistance()}. */
    void setBytesUntilSample(long bytes) {
        slots[COUNTDOWN] = bytes;
    }

    /** Pops an object of class {@code c}, or returns 0 when the class is empty. */
    long allocate(int c) {
        return allocate(slots, c);
    }

    /** {@link #allocate(int)} on a cache's {@link #fastSlots()}. */
    static long allocate(long[] slots, int c) {
        long ends = slots[PAD + 2 * c];
        long address = slots[(int) ends];
        if (address != 0) {
            slots[PAD + 2 * c] = ends - 1;
        }
        return address;
    }

    /** Whether class {@code c} is at its limit: {@link #free(int, long, long)} would refuse an object. */
    boolean isFull(int c) {
        long ends = slots[PAD + 2 * c];
        return (int) ends + 1 == (int) (ends >>> 32);
    }

    /**
     * Frees an object of class {@code c}: marks it free ({@link FreeMarks}), then pushes it; false,
     * with the mark taken back, when the class is at its limit. Nothing between the mark and the
     * push calls out, even in code not yet compiled (where {@code free} itself is a call), so a
     * {@link StackOverflowError} cannot leave the object marked free but in no cache: lost, and its
     * second free refused as a double free. That is why the marks and the push are written out here
     * again rather than called.
     */
    boolean free(int c, long address, FreeMarks marks) {
        return free(slots, c, address, marks.cookieOf(address), marks.flagAddress(address));
    }

    /**
     * {@link #free(int, long, FreeMarks)} on a cache's {@link #fastSlots()}, given the object's
     * cookie and the address of its flag ({@link FreeMarks#cookieOf}, {@link FreeMarks#flagAddress}).
     */
    static boolean free(long[] slots, int c, long address, long cookie, long flag) {
        // The mark first, as the fast path always wrote it, and taken back in the rare full case:
        // with the cookie after the full check, a 16 B pair took 0.6-0.8 ns longer (JMH, 2 x 2 forks).
        boolean flagged = FreeMarks.isFlagged(c);
        if (flagged) {
            RawMemory.ALL.set(FreeMarks.FLAG, flag, FreeMarks.FREE);
        } else {
            RawMemory.ALL.set(FreeMarks.WORD, address, cookie);
        }
        long ends = slots[PAD + 2 * c];
        int top = (int) ends + 1;
        if (top == (int) (ends >>> 32)) {
            if (flagged) {
                RawMemory.ALL.set(FreeMarks.FLAG, flag, FreeMarks.ALLOCATED);
            } else {
                RawMemory.ALL.set(FreeMarks.WORD, address, 0L);
            }
            return false;
        }
        slots[top] = address;
        slots[PAD + 2 * c] = ends + 1;
        slots[PAD + 2 * c + 1]++;
        return true;
    }

    /** Pushes an object of class {@code c}, already marked free; false when the class is at its limit. */
    boolean free(int c, long address) {
        long ends = slots[PAD + 2 * c];
        int top = (int) ends + 1;
        if (top == (int) (ends >>> 32)) {
            return false;
        }
        slots[top] = address;
        slots[PAD + 2 * c] = ends + 1;
        slots[PAD + 2 * c + 1]++;
        return true;
    }

    private void setStack(int c, int depth, int limit) {
        int sentinel = REGION[c];
        slots[PAD + 2 * c] = (sentinel + depth) | ((long) (sentinel + 1 + limit) << 32);
    }

    private void setDepth(int c, int depth) {
        setStack(c, depth, limit(c));
    }

    private void setLimit(int c, int limit) {
        setStack(c, depth(c), limit);
    }

    /** How many objects class {@code c} may hold now; kept in its stack word. */
    private int limit(int c) {
        return (int) (slots[PAD + 2 * c] >>> 32) - REGION[c] - 1;
    }

    /**
     * The slow half of allocate: grows the class's limit if the budget allows, fetches a batch from
     * the central list and returns one object; 0 when the heap is out of memory.
     */
    long refill(int c) {
        int wanted = refillCount(c);
        if (limit(c) == 0) {
            if (centrals[c].take(transfer, PAD, 1) == 0) {
                return 0;
            }
            received[PAD + c]++;
            return transfer[PAD];
        }
        int got = centrals[c].take(slots, REGION[c] + 1, wanted);
        if (got == 0) {
            return 0;
        }
        received[PAD + c] += got;
        setDepth(c, got - 1);
        return slots[REGION[c] + got];
    }

    /**
     * The first half of a refill: grows the class's limit if the budget allows and says how many
     * objects to fetch (one, straight to the caller, when the class may hold none). A stripe runs
     * this half under its lock, fetches without it, and hands the batch to {@link #stash}, so that
     * the central list (which may call the OS for a new span) is not asked under the stripe's lock.
     */
    int refillCount(int c) {
        countTowardsReview(c);
        grow(c);
        int room = limit(c);
        return room == 0 ? 1 : Math.min(BATCH[c], room);
    }

    /**
     * The other half, under the lock again: {@code batch[0..got)} came from the central list;
     * {@code batch[0]} goes to the caller and the rest onto the stack as far as its limit allows
     * (another thread may have filled it meanwhile). Returns how many did not fit, the last ones of
     * the batch, which the caller gives back to the central list after dropping the lock.
     */
    int stash(int c, long[] batch, int got) {
        int depth = depth(c);
        int pushed = Math.clamp(limit(c) - depth, 0, got - 1);
        System.arraycopy(batch, 1, slots, REGION[c] + 1 + depth, pushed);
        int left = got - 1 - pushed;
        // The counts before the stack, as a refill does (see mallocs).
        received[PAD + c] += got;
        returned[PAD + c] += left;
        setDepth(c, depth + pushed);
        return left;
    }

    /** The slow half of free: makes room by growing the limit or draining a batch, then pushes. */
    void overflow(int c, long address) {
        countTowardsReview(c);
        if (limit(c) < BATCH[c]) {
            grow(c);
        }
        if (depth(c) == limit(c)) {
            if (limit(c) == 0) {
                slots[PAD + 2 * c + 1]++;
                returned[PAD + c]++;
                transfer[PAD] = address;
                giveBack(c, 1);
                return;
            }
            drain(c, Math.min(BATCH[c], depth(c)));
        }
        free(c, address);
    }

    /** Gives the oldest {@code count} objects of class {@code c} back to the central list. */
    private void drain(int c, int count) {
        int first = REGION[c] + 1;
        int remaining = depth(c) - count;
        System.arraycopy(slots, first, transfer, PAD, count);
        System.arraycopy(slots, first + count, slots, first, remaining);
        setDepth(c, remaining);
        returned[PAD + c] += count;
        giveBack(c, count);
    }

    /** Gives {@code transfer}'s first {@code count} objects to class {@code c}'s central list. */
    private void giveBack(int c, int count) {
        if (ownerId != 0) {
            centrals[c].giveFromFree(transfer, PAD, count);
        } else if (centrals[c].give(transfer, PAD, count)) {
            scavengeOwed = true;
        }
    }

    /**
     * Whether a stripe owes the page heap's inline scavenging check (see {@link #scavengeOwed}); clears
     * it. Writes only when it was set: every free on a stripe asks, and a store on every free to a
     * field of an object that a collection may place beside another stripe's is work for nothing (no
     * measured effect: the slow forks of two carriers' pairs turned out to be neighbouring blocks).
     */
    boolean takeScavengeOwed() {
        if (!scavengeOwed) {
            return false;
        }
        scavengeOwed = false;
        return true;
    }

    private void grow(int c) {
        int current = limit(c);
        int target = Math.min(MAX_DEPTH[c],
                current < BATCH[c] ? Math.max(current + 1, FIRST_LIMIT[c]) : current + BATCH[c]);
        long extra = (long) (target - current) * SizeClasses.SIZE[c];
        if (extra == 0) {
            return;
        }
        if (!holdingBudget) {
            holdingBudget = true;
            budget.startHolding();
        }
        if (c >= FIRST_BIG_CLASS && bigClassLimitBytes() + extra > budget.perCacheBytes() / 2) {
            pressed = true;
            return;
        }
        // The classes may use this cache's share of the budget less what kept large spans may take,
        // so that neither crowds the other out.
        long cap = classShare();
        if (classLimitBytes + extra > budgetBytes) {
            budgetBytes += budget.requestChunk(cap - budgetBytes, classLimitBytes + extra - budgetBytes);
        }
        if (classLimitBytes + extra <= budgetBytes) {
            setLimit(c, target);
            classLimitBytes += extra;
        } else {
            pressed = true;
        }
    }

    /** The limits of the classes above {@link #BIG_CLASS_BYTES}, in bytes. */
    private long bigClassLimitBytes() {
        long bytes = 0;
        for (int c = FIRST_BIG_CLASS; c < SizeClasses.COUNT; c++) {
            bytes += (long) limit(c) * SizeClasses.SIZE[c];
        }
        return bytes;
    }

    /**
     * The classes' part of this cache's share of the pool: its share less what kept large spans may
     * take of it. Never less than three quarters of the share: subtracting their fixed 1 MiB left
     * nothing for the classes of any thread once 32 caches shared the default pool, and every
     * allocation and free of those threads went through a central list's lock (found with 40
     * threads: 9 of them took every object from the central list).
     */
    private long classShare() {
        long share = budget.shareCap();
        return share - LargeSpanCache.capOf(share);
    }

    /** Counts a slow-path event of class {@code c}; every {@link #REVIEW_INTERVAL}th runs a review. */
    private void countTowardsReview(int c) {
        if (--untilReview == 0) {
            untilReview = REVIEW_INTERVAL;
            review(c);
        }
    }

    /**
     * Gives back what this cache holds and does not need, when it needs it elsewhere:
     * <ul>
     *   <li>after a class failed to grow for want of budget, every class not used since the previous
     *       review (except {@code active}, which the caller is using) halves its limit, its oldest
     *       objects past the new limit going back to the central list, and the budget serves the
     *       classes in use (half, as TCMalloc gives back half of what a list did not use, so that a
     *       class used now and then keeps some);</li>
     *   <li>while the cache holds more than its share of the pool, which happens when threads start
     *       after it grew, its largest classes halve their limits until it fits, and the budget past
     *       its share goes back to the pool.</li>
     * </ul>
     * Then it notes each class's counters for the next review.
     */
    void review(int active) {
        long share = classShare();
        boolean overShare = classLimitBytes > share;
        if (pressed || overShare) {
            for (int c = 1; c < SizeClasses.COUNT; c++) {
                if (c != active && isUnusedSinceReview(c)) {
                    shrink(c, limit(c) / 2);
                }
            }
        }
        pressed = false;
        while (classLimitBytes > share && halveLargestClass()) {
            // each pass halves one class, largest first
        }
        long keep = Math.max(classLimitBytes, Math.min(budgetBytes, share));
        if (budgetBytes > keep) {
            budget.giveBack(budgetBytes - keep);
            budgetBytes = keep;
        }
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            reviewed[3 * c] = slots[PAD + 2 * c];
            reviewed[3 * c + 1] = slots[PAD + 2 * c + 1];
            reviewed[3 * c + 2] = received[PAD + c];
        }
    }

    private boolean isUnusedSinceReview(int c) {
        return reviewed[3 * c] == slots[PAD + 2 * c] && reviewed[3 * c + 1] == slots[PAD + 2 * c + 1]
                && reviewed[3 * c + 2] == received[PAD + c];
    }

    /** Halves the limit of the largest class that has one; false when no class has a limit. */
    private boolean halveLargestClass() {
        for (int c = SizeClasses.COUNT - 1; c >= 1; c--) {
            int limit = limit(c);
            if (limit > 0) {
                shrink(c, limit / 2);
                return true;
            }
        }
        return false;
    }

    /** Lowers class {@code c}'s limit to {@code limit}, giving its oldest objects past it to the central list. */
    private void shrink(int c, int limit) {
        for (int excess = depth(c) - limit; excess > 0; excess -= MAX_BATCH) {
            drain(c, Math.min(excess, MAX_BATCH));
        }
        classLimitBytes -= (long) (limit(c) - limit) * SizeClasses.SIZE[c];
        setLimit(c, limit);
    }

    /** Whether a freed large span of {@code pages} pages can be kept here; see {@link LargeSpanCache}. */
    boolean hasLargeRoom(int pages) {
        return large.hasRoom(pages);
    }

    /**
     * Keeps freed large span {@code span} (already CACHED); call after {@link #hasLargeRoom}.
     * {@code counted}: false for a sampled block, which the profiler counts.
     */
    void pushLarge(int span, int pages, boolean counted) {
        large.push(span, pages, counted);
    }

    /** A kept large span of exactly {@code pages} pages (still CACHED) for a sampled block, or 0. */
    int popLargeForSample(int pages) {
        return large.pop(pages);
    }

    /** Undoes {@link #popLargeForSample}: the sample could not be recorded. */
    void returnLargeForSample(int span, int pages) {
        large.push(span, pages, false);
    }

    /** How many freed large spans this cache keeps. */
    int cachedLargeSpans() {
        return large.spanCount();
    }

    /** Adds {large frees, their bytes} through this cache to {@code into}; no counted large block leaves it. */
    void addLargeFrees(long[] into) {
        large.addFrees(into);
    }

    /** Returns every cached object to the central lists and the budget to the heap. */
    void flush() {
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            int count = depth(c);
            if (count > 0) {
                centrals[c].give(slots, REGION[c] + 1, count);
            }
            // The stack before the count, as a drain does (see mallocs).
            setStack(c, 0, 0);
            returned[PAD + c] += count;
        }
        classLimitBytes = 0;
        large.flush();
        budget.giveBack(budgetBytes);
        budgetBytes = 0;
        if (holdingBudget) {
            holdingBudget = false;
            budget.stopHolding();
        }
    }

    /**
     * Objects of class {@code c} handed to users through this cache: everything that came in from
     * the central list or from frees, less what is still here or went back.
     */
    long mallocs(int c) {
        // Read while the owner runs (statistics), in this order, each load after the one before, so
        // that a count read between two stores of an update errs high, never low: a drain or flush
        // lowers the stack before it adds to returned (read first), and a refill or stash adds to
        // received (read last but one) before it deepens the stack. Only a push read between its
        // stack word and its free count reads one low.
        long returnedObjects = returned[PAD + c];
        VarHandle.loadLoadFence();
        int depth = depth(c);
        VarHandle.loadLoadFence();
        long receivedObjects = received[PAD + c];
        VarHandle.loadLoadFence();
        return receivedObjects - returnedObjects - depth + frees(c);
    }

    /** Objects of class {@code c} this cache has taken from the central list. */
    long received(int c) {
        return received[PAD + c];
    }

    long frees(int c) {
        return slots[PAD + 2 * c + 1];
    }

    /** The budget this cache holds now, for its classes and its kept large spans. */
    long budgetBytes() {
        return budgetBytes + large.budgetBytes();
    }

    /** Objects of class {@code c} in this cache (statistics, verification). */
    int depth(int c) {
        return (int) slots[PAD + 2 * c] - REGION[c];
    }

    long cachedBytes() {
        long bytes = large.cachedBytes();
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            bytes += (long) depth(c) * SizeClasses.SIZE[c];
        }
        return bytes;
    }

    /** Checks this cache's bounds and budget, and that every object it holds carries its free mark. */
    void verify(FreeMarks marks) {
        Invariants.check(slots[OWNER] == ownerId, "cache of thread %d names thread %d as its owner", ownerId, slots[OWNER]);
        long bytes = 0;
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            int depth = depth(c);
            int limit = limit(c);
            Invariants.check(depth >= 0 && depth <= limit && limit >= 0 && limit <= MAX_DEPTH[c] && slots[REGION[c]] == 0,
                    "cache class %d: depth %d, limit %d, stack ends %x", c, depth, limit, slots[PAD + 2 * c]);
            for (int i = 1; i <= depth; i++) {
                long address = slots[REGION[c] + i];
                Invariants.check(marks.isFree(address, c), "cached object 0x%x of class %d is not marked free", address, c);
            }
            bytes += (long) limit * SizeClasses.SIZE[c];
        }
        large.verify();
        Invariants.check(bytes == classLimitBytes && classLimitBytes <= budgetBytes
                        && budgetBytes + large.budgetBytes() <= budget.perCacheBytes(),
                "cache limits %d bytes (tracked %d) of budget %d, large spans' budget %d, per cache %d", bytes,
                classLimitBytes, budgetBytes, large.budgetBytes(), budget.perCacheBytes());
    }

    /** The object's and its arrays' headers and its scalar fields, rounded up: a few dozen words. */
    private static final long HEADERS_AND_FIELDS_BYTES = 128;

    /** Bytes of Java heap this cache occupies (metadata statistics). */
    static long footprintBytes() {
        return SLOTS * 8L + (PAD + SizeClasses.COUNT + PAD) * 8L * 2 + (PAD + MAX_BATCH + PAD) * 8L
                + LargeSpanCache.footprintBytes() + HEADERS_AND_FIELDS_BYTES;
    }
}
