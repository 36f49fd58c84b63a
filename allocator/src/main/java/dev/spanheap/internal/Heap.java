package dev.spanheap.internal;

import dev.spanheap.MemStats;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The allocator behind {@code dev.spanheap.Spanheap}: routes each request down the ladder of
 * package-info (thread cache, central list, page heap) and each free back up it, and turns bad
 * input into exceptions before it can touch memory.
 *
 * <p>Small blocks (up to 1 MiB, alignment up to 8, which every class gives) take the fast path:
 * the thread's cache from a table indexed by thread id, size to class by table, one pop, and one
 * store that clears the block's free mark. Every other case goes through {@link SlowAllocations}.
 *
 * <p>Double frees of small blocks: a block that is not allocated carries its mark (a cookie in its
 * first word, or for blocks of 128 B or more a flag in a side table, see {@link FreeMarks}), and
 * allocation clears it. A free that finds the mark already there throws, at the cost of one load
 * and one compare; package-info lists the double frees this misses
 * and checked mode ({@link AllocationBits}) catches. Large blocks are checked exactly against
 * their span's state, always.
 */
public final class Heap implements IdleCentralMemory {

    private static final ValueLayout.OfLong WORD = FreeMarks.WORD;
    private static final ValueLayout.OfByte FLAG = FreeMarks.FLAG;
    /** Bit {@code a} is set for each alignment {@code a} that every size class gives: 1, 2, 4, 8. */
    private static final long FAST_ALIGNMENTS = (1L << 1) | (1L << 2) | (1L << 4) | (1L << 8);
    /**
     * Shared caches for virtual threads, each behind a lock, one per carrier thread
     * ({@link CarrierStripes}): as many as a default scheduler's carriers on machines of up to eight
     * cores (one per core), whose virtual threads then never meet on a stripe; carriers past that
     * share stripes. Few enough that their cache memory stays small and bounded.
     */
    private static final int VIRTUAL_THREAD_STRIPES = 8;
    private static final AtomicInteger HEAPS_CREATED = new AtomicInteger();
    private final PageHeap pageHeap;
    /** {@link PageMap#address()}, held here so that a free's page-map read is one load. */
    private final long pageMapAddress;
    private final HeapSegments segments;
    private final long base;
    /** The reservation's size: the builder's maxHeapSize in whole pages, the hard limit messages name. */
    private final long reservedBytes;
    private final CentralList[] centrals = new CentralList[SizeClasses.COUNT];
    private final CacheBudget budget;
    private final ThreadCaches caches;
    /** The virtual threads' shared caches; the registry's, held here to save an indirection. */
    private final StripedCaches stripes;
    /**
     * The calling thread's cache (null on a virtual thread without one); the registry's, held here
     * to save an indirection.
     */
    private final ThreadLocal<ThreadCache> localCache;
    /**
     * The fast paths' mirror of {@link ThreadSlots}' table (each cache's {@link ThreadCache#fastSlots()}),
     * held here to save an indirection. Plain: replaced under the registry lock when the table grows;
     * a thread that reads the old one finds its cache there or misses to the slow path.
     */
    private long[][] slotsByThreadId;
    /** {@code slotsByThreadId.length - 1}, published with it (see {@link #slotsOf}). */
    private int slotMask;
    /** Where {@link #slotsByThreadId} is copied as well, for a facade that keeps it (see {@link #mirrorSlotTable}). */
    private volatile Consumer<long[][]> slotTableMirror = table -> { };
    private final FreeMarks marks;
    /** {@code marks.key} and the flag table's bias, held here so that the fast paths read them from this object. */
    private final long cookieKey;
    private final long flagBias;
    private final boolean checked;
    private final AllocationBits allocationBits;
    /** Checked mode's per-segment scopes, which catch use after free; null when unchecked. */
    private final BlockScopes blockScopes;
    private final Scavenger scavenger;
    private final LargeBlocks large;
    private final HeapProfiler profiler;
    private final SlowAllocations slowAllocations;
    private final SlowFrees slowFrees;
    private final LiveBlocks liveBlocks;
    /** The heap's name in reports, JFR events and JMX. */
    private final String name;
    private final FreeChecks freeChecks;
    private final ReentrantLock closeLock = new ReentrantLock();
    private volatile boolean closed;
    /**
     * Whether the unchecked fast paths may run (not checked mode, not closed), folded into the
     * bounds they test anyway: a free's fast path takes offsets below {@code fastFreeBytes} (the
     * reservation, or 0), an allocation's takes sizes up to {@code fastSizeBytes} (1 MiB, or 0).
     * Folding saves a load and a branch per call.
     *
     * <p>Plain, not volatile: a volatile read on every call made the fast paths measurably slower
     * (JMH), because the JIT may not share or move loads across it. A
     * thread whose use of the heap is ordered after {@link #close()} (by a join, a lock, a volatile,
     * a queue) sees the change and takes the slow paths, which check {@link #closed} and throw. A
     * thread racing with close may still run a fast path on the closed heap's memory; that memory
     * stays mapped while the heap object is reachable (see {@link RawMemory}), so the race cannot
     * crash the JVM, and the thread gets the exception on its next slow path.
     */
    private long fastFreeBytes;
    private long fastSizeBytes;

    public Heap(HeapConfig config) {
        this.pageHeap = new PageHeap(config.os(), config.maxHeapBytes(), config.commitStepPages(), config.hugePages());
        // A failure past this point (the allocation bitmap's mmap in checked mode, a full Java heap,
        // no thread for the scavenger) gives the reservation back: nothing else would, and each
        // failed attempt kept its whole address range.
        Scavenger created = null;
        try {
            this.pageMapAddress = pageHeap.pageMap.address();
            this.base = pageHeap.base();
            this.marks = new FreeMarks(pageHeap);
            this.cookieKey = marks.key;
            this.flagBias = marks.flagBias;
            this.reservedBytes = pageHeap.reservedBytes();
            for (int c = 1; c < SizeClasses.COUNT; c++) {
                centrals[c] = new CentralList(c, pageHeap, marks);
            }
            this.budget = new CacheBudget(config.totalCacheBytes(), config.threadCacheBytes());
            this.profiler = new HeapProfiler(config.profileRate());
            this.caches = new ThreadCaches(centrals, budget, VIRTUAL_THREAD_STRIPES, config.virtualThreadCaches(),
                    pageHeap, this::publishSlots, profiler);
            this.localCache = caches.local;
            this.stripes = caches.stripes();
            this.large = new LargeBlocks(pageHeap, profiler);
            this.freeChecks = new FreeChecks(pageHeap);
            this.checked = config.checked();
            this.allocationBits = checked
                    ? new AllocationBits(pageHeap.space().mapMetadata(AllocationBits.bytesFor(reservedBytes)))
                    : null;
            this.blockScopes = checked ? new BlockScopes() : null;
            this.segments = new HeapSegments(this, pageHeap.space(), base, reservedBytes, blockScopes);
            enableFastPaths(!checked);
            HeapConfig.Scavenging scavenging = config.scavenging();
            this.name = config.name() != null ? config.name() : "spanheap-" + HEAPS_CREATED.incrementAndGet();
            SampledAllocations sampled = new SampledAllocations(profiler, large, scavenging.clock(), name);
            this.slowAllocations = new SlowAllocations(this, pageHeap, caches, profiler, sampled, large);
            this.slowFrees = new SlowFrees(this, caches, marks, large, freeChecks, profiler, allocationBits, blockScopes);
            this.liveBlocks = new LiveBlocks(this, pageHeap, marks, large, freeChecks, segments, blockScopes);
            created = new Scavenger(this, pageHeap, scavenging, name, profiler::resolvePending);
            this.scavenger = created;
            pageHeap.setInlineScavenging(scavenger);
            if (scavenging.background()) {
                scavenger.start(scavenging.sleeper());
            }
            SpanheapEvents.opened(this);
        } catch (RuntimeException | Error failed) {
            if (created != null) {
                created.stop();
            }
            pageHeap.close();
            throw failed;
        }
    }

    // ---- allocation ----

    /**
     * Allocates {@code size} bytes aligned to {@code alignment}; returns the address. Blocks of 16
     * bytes or more are at least 16-byte aligned, smaller ones at least to their size's power of two.
     *
     * <p>The fast path: a small size, an alignment every class gives, a thread with a cache, and an
     * object in its cache. Everything else, including every check that fails, is
     * {@link SlowAllocations}.
     */
    public long allocate(long size, long alignment) {
        return allocate(slotsByThreadId, slotMask, size, alignment);
    }

    /**
     * {@link #allocate(long, long)} with the slot table and mask the caller keeps (see
     * {@link #mirrorSlotTable}).
     */
    public long allocate(long[][] table, int mask, long size, long alignment) {
        if (isFastRequest(size, alignment)) {
            long thread = Thread.currentThread().threadId();
            long[] slots = slotsOf(table, mask, thread);
            if (slots != null && slots[ThreadCache.OWNER] == thread) {
                return allocate(slots, size, alignment);
            }
        }
        return allocateUnslotted(size, alignment);
    }

    /**
     * An allocation by a thread without a cache in the slot table. A small request of a virtual
     * thread that has no cache of its own (while the virtual threads' caches are all held, without
     * asking; else its {@link ThreadLocal} says so, and on its first call the registry offers it one,
     * see ThreadCaches#register) pops from its carrier's stripe here, past none of
     * {@link SlowAllocations}' general work (the argument checks and class lookup for any request,
     * the registry's thread-local, the statistics' wrappers): in a plain loop of 16 B pairs on one
     * virtual thread that road took about 14 of 22 ns (see the performance notes). Everything else, and a request this does not serve (an empty
     * class, the profile's next sample), goes to {@link SlowAllocations}, which counts it from the
     * start. It tests the request again rather than take the caller's verdict: the caller's code is
     * inlined into every user's loop, and one call out of it for every miss keeps that code small
     * (see {@link #allocate(ThreadCache, long, long)}).
     */
    private long allocateUnslotted(long size, long alignment) {
        if (isFastRequest(size, alignment) && Thread.currentThread().isVirtual()
                && (caches.virtualCachesFull() || localCache.get() == null)) {
            int c = SizeClassLookup.sizeClassOf(size);
            long address = stripes.allocateFromStripe(c, profiler.rate() != 0 ? size : 0);
            if (address != 0) {
                return handedOut(address, c);
            }
        }
        return slowAllocations.allocate(size, alignment, SlowAllocations.COUNT_TOWARDS_SAMPLE);
    }

    /**
     * Whether the fast path may serve the request: {@code size} in (0, 1 MiB] while fast paths run,
     * and {@code alignment} one that every class gives.
     */
    private boolean isFastRequest(long size, long alignment) {
        // One unsigned compare for both ends of the size range. The alignment's compare is unsigned
        // too: Java's shift takes only the low six bits of its count, so a negative alignment such as
        // -56 would otherwise pick bit 8 of FAST_ALIGNMENTS and pass.
        return Long.compareUnsigned(size - 1, fastSizeBytes) < 0
                && Long.compareUnsigned(alignment, 8) <= 0 && ((FAST_ALIGNMENTS >>> alignment) & 1) != 0;
    }

    private void enableFastPaths(boolean enable) {
        fastFreeBytes = enable ? reservedBytes : 0;
        fastSizeBytes = enable ? SizeClasses.MAX_SMALL_SIZE : 0;
    }

    /**
     * Hands {@code mirror} the slot table now and each time it grows, so that a facade can keep it
     * in a field of its own, with its mask ({@code length - 1}) in another, and pass both to
     * {@link #allocate(long[][], int, long, long)} and {@link #free(long[][], int, long)}: one
     * dependent load less on each fast path than reaching the table through this object, and
     * another than reading the mask from the table's length (see {@link #slotsOf}). A facade that
     * sees an old table finds its cache there or misses.
     */
    public void mirrorSlotTable(Consumer<long[][]> mirror) {
        caches.publishUnderLock(() -> {
            slotTableMirror = mirror;
            mirror.accept(slotsByThreadId);
        });
    }

    private void publishSlots(long[][] table) {
        slotsByThreadId = table;
        slotMask = table.length - 1;
        slotTableMirror.accept(table);
    }

    /**
     * The fast-path array of the cache in thread {@code threadId}'s slot of {@code table}: its own,
     * or null or another's on a miss (see {@link ThreadCache#OWNER}).
     *
     * <p>{@code mask} is the length of the table it was published with, less one, read from a field
     * of its own: masking with {@code table.length - 1} made the slot's load wait for the length's,
     * one more step in the chain of dependent loads that a caller's loop repeats after every call
     * it makes (JMH: a 64 KiB pair with profiling on took 13 ns, against 8 with the mask apart). The
     * two fields are plain and tables only grow, so a reader may pair a new mask with an old,
     * shorter table: the compare with the length turns that into a miss, not an exception.
     */
    private static long[] slotsOf(long[][] table, int mask, long threadId) {
        int slot = (int) threadId & mask;
        return slot < table.length ? table[slot] : null;
    }

    /** Whether the unchecked fast paths run: not checked mode, not closed. */
    boolean fastPaths() {
        return fastFreeBytes != 0;
    }

    /** The calling platform thread's cache, for {@code LocalHeap}. */
    public ThreadCache currentThreadCache() {
        StackHeadroom.ensure();
        checkOpen();
        if (Thread.currentThread().isVirtual()) {
            throw new UnsupportedOperationException(
                    "virtual threads have no LocalHeap (a cache of their own only while few hold one); "
                            + "use Spanheap's allocate and free directly");
        }
        return localCache.get();
    }

    /**
     * {@link #allocate} for the owner of {@code cache}, which the caller has checked. One call out
     * of line for every miss: each extra call site in a caller's loop costs it registers (compiled
     * Java code has no callee-saved registers, so whatever lives across a call is spilled).
     */
    public long allocate(ThreadCache cache, long size, long alignment) {
        return allocate(cache.fastSlots(), size, alignment);
    }

    /**
     * {@link #allocate(ThreadCache, long, long)} on the cache's {@link ThreadCache#fastSlots()}, which
     * a caller may keep (see {@link #fastSlotsOf}) to save the load through the cache.
     */
    public long allocate(long[] slots, long size, long alignment) {
        // The profiler's countdown: a subtraction and a compare; see HeapProfiler.
        if (isFastRequest(size, alignment) && ThreadCache.countDownToSample(slots, size) >= 0) {
            int c = SizeClassLookup.sizeClassOf(size);
            long address = ThreadCache.allocate(slots, c);
            if (address != 0) {
                if (FreeMarks.isFlagged(c)) {
                    RawMemory.ALL.set(FLAG, FreeMarks.flagAddress(flagBias, address), FreeMarks.ALLOCATED);
                } else {
                    RawMemory.ALL.set(WORD, address, 0L);
                }
                return address;
            }
        }
        return allocateOffFastPath(slots, size, alignment);
    }

    /**
     * The rest of {@link #allocate(ThreadCache, long, long)}: a small request the fast path counted
     * (its cache was empty, or it is the profile's next sample), or anything else, which it did not
     * count, through {@link SlowAllocations}. Every block of up to 1 MiB that the fast path refuses
     * only for its alignment has a class or is aligned past a page, so no large request is left here
     * for the thread's kept spans (they serve the profiler's samples, see SampledAllocations).
     */
    private long allocateOffFastPath(long[] slots, long size, long alignment) {
        if (isFastRequest(size, alignment)) {
            return slowAllocations.allocate(size, alignment, ThreadCache.bytesUntilSample(slots) < 0
                    ? SlowAllocations.SAMPLE : SlowAllocations.COUNTED);
        }
        return slowAllocations.allocate(size, alignment, SlowAllocations.COUNT_TOWARDS_SAMPLE);
    }

    /** Object {@code address} of class {@code c}, just taken from a cache, marked as handed out. */
    long handedOut(long address, int c) {
        marks.markAllocated(address, c);
        if (checked) {
            allocationBits.markAllocated(address - base);
        }
        return address;
    }

    /** Like {@link #allocate} but the block reads as zero; released pages are not cleared again. */
    public long allocateZeroed(long size) {
        return allocateZeroed(size, 1);
    }

    /** {@link #allocateZeroed(long)} aligned to {@code alignment}. */
    public long allocateZeroed(long size, long alignment) {
        return liveBlocks.zeroed(allocate(size, alignment), size);
    }

    // ---- free ----

    /**
     * Frees the block at {@code address}, which must be the start of a live block of this heap.
     *
     * <p>The fast path: a small object's start on a thread with a cache, without its free mark. It marks
     * the object free and pushes it on the thread's cache; every other case, and every
     * failed check, goes to {@link SlowFrees}, which repeats the checks with messages.
     */
    public void free(long address) {
        free(slotsByThreadId, slotMask, address);
    }

    /** {@link #free(long)} with the slot table and mask the caller keeps (see {@link #mirrorSlotTable}). */
    public void free(long[][] table, int mask, long address) {
        free(table, mask, address, base, pageMapAddress);
    }

    /**
     * {@link #free(long[][], int, long)} with copies of this heap's {@link #base()} and
     * {@link #pageMapAddress()} that the caller keeps in its own final fields. The free's chain of
     * dependent loads (the page-map entry, then the class's stack word) starts from them: read from
     * the caller they are one load nearer than through this object, which a caller's loop repeats
     * after every call it makes (JMH, a 64 KiB pair with profiling on: 7.2 ns against 8.0).
     */
    public void free(long[][] table, int mask, long address, long base, long pageMapAddress) {
        long thread = Thread.currentThread().threadId();
        long[] slots = slotsOf(table, mask, thread);
        if (slots != null && slots[ThreadCache.OWNER] == thread) {
            free(slots, null, address, base, pageMapAddress);
        } else {
            freeUnslotted(address);
        }
    }

    /**
     * {@link #free} for the owner of {@code cache}, which the caller has checked. Like
     * {@link #allocate(ThreadCache, long, long)}, one call out of line for everything else.
     */
    public void free(ThreadCache cache, long address) {
        free(cache.fastSlots(), cache, address, base, pageMapAddress);
    }

    /**
     * {@link #free(ThreadCache, long)} on a cache's {@link ThreadCache#fastSlots()}, which a handle
     * may keep (see {@link #fastSlotsOf}); {@code cache} is that cache, or null when the caller found
     * only its array (then the slow half looks it up). {@code base} and {@code pageMapAddress}: this
     * heap's, or a caller's copies of them (see {@link #free(long[][], int, long, long, long)}).
     */
    public void free(long[] slots, ThreadCache cache, long address, long base, long pageMapAddress) {
        long offset = address - base;
        long entry = 0;
        int overflowClass = 0;
        if (Long.compareUnsigned(offset, fastFreeBytes) < 0) {
            entry = PageMap.entryAt(pageMapAddress, offset);
            int c = PageMap.sizeClass(entry);
            long cookie = address ^ cookieKey;
            long flag = FreeMarks.flagAddress(flagBias, address);
            if (isUnmarkedBlockStart(c, offset, entry, address, cookie, flag, pageMapAddress)) {
                if (ThreadCache.free(slots, c, address, cookie, flag)) {
                    return;
                }
                // Not freed yet, not even marked: the slow half marks it once it has checked the stack.
                overflowClass = c;
            }
        }
        slowFrees.free(cache, address, entry, overflowClass);
    }

    /**
     * The fast paths' check of a free: whether {@code address}, at {@code offset} in the heap with
     * page-map {@code entry} giving class {@code c}, is the start of a block of a class that does
     * not carry the free mark ({@code cookie} in its first word, or its flag at {@code flag} reading free).
     * A flagged block's own memory is not read: a buffer freed long after its last use is cold,
     * and that read was a cache miss on every free (see FreeMarks).
     *
     * <p>The entry is read again after the mark and must not have changed ({@link PageMap#stillMaps});
     * if it did, the free goes to {@link SlowFrees}, which checks it against what the address is
     * now: a double free, or the free of whatever block was handed out there since, as any stale
     * free after reuse is. Package-private for its test.
     */
    static boolean isUnmarkedBlockStart(
            int c, long offset, long entry, long address, long cookie, long flag, long pageMapAddress) {
        long spanOffset = (offset & (Pages.SIZE - 1)) + (entry & PageMap.PAGE_OFFSET_MASK);
        if (!SizeClassLookup.isBlockStart(c, spanOffset) || (FreeMarks.isFlagged(c)
                ? RawMemory.ALL.get(FLAG, flag) == FreeMarks.FREE
                : RawMemory.ALL.get(WORD, address) == cookie)) {
            return false;
        }
        return PageMap.stillMaps(pageMapAddress, offset, entry);
    }

    /**
     * A free by a thread without a cache in the slot table. A virtual thread's free of a small
     * block (whether or not the thread has a cache: a free may go to any cache) passes the platform
     * fast path's checks here and is pushed on its carrier's stripe, past
     * {@link SlowFrees}' general work (see {@link #allocateUnslotted}); everything else, and a
     * push the stripe's full class refuses, goes to {@link SlowFrees}, which checks it from the
     * start.
     */
    private void freeUnslotted(long address) {
        long offset = address - base;
        if (Long.compareUnsigned(offset, fastFreeBytes) < 0 && Thread.currentThread().isVirtual()) {
            long entry = PageMap.entryAt(pageMapAddress, offset);
            int c = PageMap.sizeClass(entry);
            long cookie = address ^ cookieKey;
            long flag = FreeMarks.flagAddress(flagBias, address);
            if (isUnmarkedBlockStart(c, offset, entry, address, cookie, flag, pageMapAddress)
                    && stripes.freeToStripe(c, address, cookie, flag)) {
                return;
            }
        }
        slowFrees.free(address);
    }

    /** The usable size of the live block at {@code address}: at least what was asked for. */
    public long usableSize(long address) {
        return liveBlocks.usableSize(address, "usableSize");
    }

    // ---- reallocation ----

    /**
     * Resizes the live block at {@code address} to {@code newSize} bytes, keeping its contents up to
     * the smaller of the two sizes, and returns its address, which changes when the block moves.
     * Rejects what {@link #free} rejects, with the same exceptions.
     *
     * <p>In place when the block's usable size holds {@code newSize} and the block would not be more
     * than half empty (TCMalloc's rule: shrinking a block to a small part of itself moves it, so
     * that the rest of its span can be used). Otherwise a new block, a copy, and a free of the old.
     * The new block has the alignment {@code allocate(newSize)} gives, not the old block's.
     */
    public long reallocate(long address, long newSize) {
        return liveBlocks.reallocate(address, newSize);
    }

    // ---- segments, lifecycle ----

    /** The heap's memory as segments: its blocks', and the views adapters wrap or re-bind. */
    public HeapSegments segments() {
        return segments;
    }

    /** The array that {@code cache}'s fast paths work on, fixed for the cache's life, for a handle to keep. */
    public static long[] fastSlotsOf(ThreadCache cache) {
        return cache.fastSlots();
    }

    /** The page map's address; fixed for the heap's life, so that a facade may keep a copy. */
    public long pageMapAddress() {
        return pageMapAddress;
    }

    /** The address of the reservation's first byte: {@link HeapSegments#memory()}'s offset 0. */
    public long base() {
        return base;
    }

    /** The heap's hard limit in bytes: no block can be larger. */
    public long reservedBytes() {
        return reservedBytes;
    }

    public boolean isClosed() {
        return closed;
    }

    public void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    /** {@code failure}, or the close if the heap is closed: what an operation that raced close() reports. */
    RuntimeException closedOr(RuntimeException failure) {
        return closed ? closedException() : failure;
    }

    private static IllegalStateException closedException() {
        return FreeChecks.closed();
    }

    /**
     * Unmaps everything. Segments handed out become inaccessible (their accesses throw). Blocks still
     * in use are reported first, at WARNING, through the {@code dev.spanheap} {@link System.Logger}:
     * see {@link #leakReport()}.
     */
    public void close() {
        StackHeadroom.ensure();
        LockWaits.lock(closeLock);
        try {
            if (closed) {
                return;
            }
            LeakReport.logAtClose(this);
            SpanheapEvents.closed(this);
            closed = true;
            enableFastPaths(false);
            if (checked) {
                blockScopes.closeAll();
            } else {
                segments.closeSegmentArenas();
            }
            scavenger.stop();
            caches.close();
            // Lock order: registry (above), each central list, then the page heap; after these no
            // operation touches the memory that the page heap's close swaps for zero pages.
            for (int c = 1; c < SizeClasses.COUNT; c++) {
                centrals[c].close();
            }
            pageHeap.close();
        } finally {
            closeLock.unlock();
        }
    }

    // ---- profiling and reports ----

    /** The heap's name in reports, JFR events and JMX. */
    public String name() {
        return name;
    }

    /** Bytes per profile sample; 0 when profiling is off. */
    public long profileRate() {
        return profiler.rate();
    }

    /** Writes the sampled heap profile, a gzipped pprof protobuf; see {@link PprofWriter}. */
    public void writeHeapProfile(OutputStream out) throws IOException {
        checkOpen();
        PprofWriter.write(profiler.sites(), profiler.rate(), out);
    }

    /** The blocks still in use and, from the samples, where they were allocated; see {@link LeakReport}. */
    public String leakReport() {
        MemStats stats = new HeapStatistics(this).snapshot();
        return LeakReport.describe(name, stats, profiler, false);
    }

    // ---- introspection for statistics, the scavenger and tests ----

    HeapProfiler profiler() {
        return profiler;
    }

    /** The slot table the fast paths read now, for tests of its mirrors. */
    long[][] slotTable() {
        return slotsByThreadId;
    }

    PageHeap pageHeap() {
        return pageHeap;
    }

    /** The scavenger, for tests that step it. */
    public Scavenger scavenger() {
        return scavenger;
    }

    ThreadCaches caches() {
        return caches;
    }

    CentralList central(int c) {
        return centrals[c];
    }

    CacheBudget budget() {
        return budget;
    }

    LargeBlocks large() {
        return large;
    }

    /**
     * Releases the physical memory of every free page now (Go's {@code debug.FreeOSMemory}), after
     * flushing the calling thread's cache and the caches of ended threads. Returns the bytes released.
     */
    public long releaseMemory() {
        StackHeadroom.ensure();
        checkOpen();
        try {
            caches.flushCurrent();
            releaseIdleCentralMemory();
            return pageHeap.release(Long.MAX_VALUE);
        } catch (RuntimeException e) {
            throw closedOr(e);
        }
    }

    /**
     * Returns memory that sits idle above the page heap to it: the caches of ended threads, the
     * central transfer stacks and kept empty spans. For the scavenger and {@link #releaseMemory}.
     */
    @Override
    public void releaseIdleCentralMemory() {
        StackHeadroom.ensure();
        checkOpen();
        caches.reap();
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            centrals[c].releaseIdle();
        }
    }

    @Override
    public long idleCentralBytes() {
        long bytes = 0;
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            bytes += centrals[c].idleBytes();
        }
        return bytes;
    }

    /** Flushes the calling thread's cache to the central lists. */
    public void flushThreadCache() {
        StackHeadroom.ensure();
        checkOpen();
        try {
            caches.flushCurrent();
        } catch (RuntimeException e) {
            throw closedOr(e);
        }
    }

    /**
     * Walks every structure and throws {@link IllegalStateException} at the first broken invariant;
     * a walk that raced {@link #close()} reports the close, since the closed heap's metadata reads
     * as zeros.
     */
    public void verify() {
        checkOpen();
        try {
            HeapVerifier.verify(pageHeap, centrals, caches, marks, profiler, budget);
        } catch (RuntimeException e) {
            throw closedOr(e);
        }
    }

    /** How this heap marks free objects; for tests that verify a cache on its own thread. */
    FreeMarks freeMarks() {
        return marks;
    }

    /** The page states as text; see {@link PageHeap#describe()}. */
    public String describePages() {
        return pageHeap.describe();
    }
}
