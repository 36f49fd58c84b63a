package dev.spanheap.internal;

import dev.spanheap.OsMemoryException;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The page heap (Go's mheap): hands out runs of 8 KiB pages as spans, splits longer free runs,
 * coalesces neighbours when a span is freed, grows the committed part of the reservation in steps,
 * and releases the physical memory of free pages to the OS. See package-info for the overview and
 * the states of a page.
 *
 * <p>Everything here runs under one lock; it is the bottom rung of the allocation ladder, reached
 * for large blocks and when a central list needs a fresh span, never on the per-thread fast path.
 */
public final class PageHeap {

    /**
     * Go commits 4 MiB at a time: one {@code mmap} per 4 MiB is negligible beside the page faults of
     * 4 MiB, committed-but-untouched pages cost no RSS, and the frontier still catches stray writes.
     */
    public static final int DEFAULT_COMMIT_STEP_PAGES = (int) ((4L << 20) / Pages.SIZE);

    /**
     * A span at least this large, freed to the page heap on a user's thread, asks the scavenger
     * whether retained memory is now over its goal, and the excess is released on that thread (see
     * {@link InlineScavenging}): one lock and a sum over the central lists per free, worth it only
     * where a span's pages are many. Every block past the largest class is larger.
     */
    static final long INLINE_SCAVENGE_MIN_BYTES = 256 << 10;

    final ReentrantLock lock = new ReentrantLock();
    /** Held by the one thread growing the heap, across its mmap; taken before {@link #lock}. */
    private final ReentrantLock growLock = new ReentrantLock();
    final SpanTable spans;
    final PageMap pageMap;
    private final AddressSpace space;
    /** Gives back the metadata of the pages a release gives back. */
    private final MetadataReleases metadataReleases;
    private final FreeRuns freeRuns;
    /** Free pages whose physical memory was given back (or never touched): they read as zero. */
    private final PageBits released = new PageBits();
    /**
     * Free pages that held blocks when their span was freed (a large block's first page, every page
     * of a small-object span), to tell a double free from a foreign address.
     */
    private final PageBits heldFreedBlocks = new PageBits();
    /**
     * The first page of every span and free run: how a lookup of a page inside one finds it, since
     * only a span's ends map to it ({@link #spanCoveringLocked}). A bit per page, as the others.
     */
    private final PageBits spanStarts = new PageBits();
    private final int commitStepPages;
    private final int reservedPages;
    /** Whether commits ask for transparent huge pages, so that goal-driven releases keep dense ones whole. */
    private final boolean hugePages;

    /** Consulted before growing and after large frees; null once closed. Page heap lock. */
    private InlineScavenging inlineScavenging;
    private int committedPages;
    private int freePages;
    private int releasedFreePages;
    /** Releases between taking their runs and putting them back (their madvise runs without the lock). */
    private int releasesInFlight;
    /**
     * How long a release of everything waits between looks at {@link #releasesInFlight}. It polls,
     * with the lock dropped, rather than awaiting a condition: a condition's wait that overflows a
     * virtual thread's stack leaves it in the lock's queue for good (see {@link LockWaits}).
     */
    private static final long RELEASE_POLL_NANOS = 50_000;
    /**
     * Set by {@link #close()} under {@link #lock}: from then on nothing is carved, committed or
     * released, so no system call can touch the address space after close gave it up.
     */
    private boolean closed;

    PageHeap(OsMemory os, long maxBytes, int commitStepPages) {
        this(os, maxBytes, commitStepPages, false);
    }

    /** {@code hugePages}: commits ask for transparent huge pages, and releases keep dense ones whole (see {@link #release}). */
    PageHeap(OsMemory os, long maxBytes, int commitStepPages, boolean hugePages) {
        this.hugePages = hugePages;
        this.space = new AddressSpace(os, maxBytes, hugePages);
        try {
            this.pageMap = new PageMap(space.pageMap());
            this.metadataReleases = new MetadataReleases(space, pageMap.address());
            this.spans = new SpanTable(space.spanRecords());
            this.freeRuns = new FreeRuns(spans);
        } catch (RuntimeException | Error failed) {
            // A full Java heap here must not keep the reservation: nothing else would give it back.
            space.close();
            throw failed;
        }
        this.commitStepPages = commitStepPages;
        this.reservedPages = Math.toIntExact(space.reservedBytes() >>> Pages.SHIFT);
    }

    void setInlineScavenging(InlineScavenging scavenging) {
        this.inlineScavenging = scavenging;
    }

    AddressSpace space() {
        return space;
    }

    MetadataReleases metadataReleases() {
        return metadataReleases;
    }

    /**
     * Allocates a span of {@code pages} pages whose first address is a multiple of
     * {@code alignBytes} (a power of two), in the given state. Returns its id, or 0 when the
     * reservation cannot hold it. The span's {@code releasedPages} field says how many of its pages
     * were released before, so that a fully released span is known to read as zero.
     */
    int allocate(int pages, long alignBytes, byte state) {
        int slack = alignBytes > Pages.SIZE ? (int) (alignBytes >>> Pages.SHIFT) - 1 : 0;
        int need = pages + slack;
        boolean releasedBeforeGrowth = false;
        while (true) {
            long excess;
            boolean forSoftLimit;
            LockWaits.lock(lock);
            try {
                int found = carveOrGrowthLocked(need, pages, alignBytes, state);
                if (found >= 0) {
                    return found;
                }
                int step = -found;
                // No caller holds a lock that other allocating threads need (a central list cuts its
                // span with its own lock dropped), so any growth may release for the goal first.
                excess = releasedBeforeGrowth ? 0 : releaseBeforeGrowth(step);
                forSoftLimit = excess > 0
                        && inlineScavenging.overSoftLimit(retainedBytesLocked() + ((long) step << Pages.SHIFT));
            } finally {
                lock.unlock();
            }
            if (excess <= 0) {
                return growAndCarve(need, pages, alignBytes, state);
            }
            // Past the scavenger's goal or the soft limit, give free pages back before taking more
            // (Go's heap-growth scavenging and GOMEMLIMIT): outside the lock, like every release,
            // then look again (another thread may have freed pages).
            releasedBeforeGrowth = true;
            try {
                release(excess, forSoftLimit);
            } catch (OsMemoryException refused) {
                // Best effort: a refused madvise must not fail the allocation that is growing the heap.
            }
        }
    }

    /**
     * Commits a growth step and carves the span from it, with the {@code mmap} outside the page
     * heap's lock: threads whose requests fit the free runs keep allocating meanwhile. One thread
     * grows at a time ({@link #growLock}, taken before the page heap's lock); a thread that waited
     * for it first looks again, as the heap has usually grown enough by then. Returns the span, or 0
     * when the reservation is full or the heap closed.
     */
    private int growAndCarve(int need, int pages, long alignBytes, byte state) {
        LockWaits.lock(growLock);
        try {
            while (true) {
                int step;
                LockWaits.lock(lock);
                try {
                    int found = carveOrGrowthLocked(need, pages, alignBytes, state);
                    if (found >= 0) {
                        return found;
                    }
                    step = -found;
                } finally {
                    lock.unlock();
                }
                // Only this thread moves the frontier (it holds growLock), so the step stays valid.
                space.commit((long) step << Pages.SHIFT);
                LockWaits.lock(lock);
                try {
                    if (closed) {
                        return 0;
                    }
                    publishGrowth(step);
                    int span = carveFromFreeRunLocked(need, pages, alignBytes, state);
                    if (span != 0) {
                        return span;
                    }
                    // The free run below the frontier that the growth was to extend went to another
                    // thread meanwhile: grow again, or find the reservation full.
                } finally {
                    lock.unlock();
                }
            }
        } finally {
            growLock.unlock();
        }
    }

    /**
     * What an allocation finds under the lock: a span carved from a free run (its id, positive); 0
     * when the heap is closed or the reservation cannot hold {@code need} pages; or, when only growth
     * would make room, minus the pages to commit (one sign for the two answers that end the search
     * and another for the one that goes on, so that both callers read it the same way).
     */
    private int carveOrGrowthLocked(int need, int pages, long alignBytes, byte state) {
        if (closed) {
            return 0;
        }
        int span = carveFromFreeRunLocked(need, pages, alignBytes, state);
        return span != 0 ? span : -growthLocked(need);
    }

    /** A span carved from the free run that fits {@code need} pages best, or 0 if none holds them. Lock held. */
    private int carveFromFreeRunLocked(int need, int pages, long alignBytes, byte state) {
        int run = freeRuns.bestFit(need);
        return run != 0 ? carve(run, pages, alignBytes, state) : 0;
    }

    /**
     * The pages to commit for a run of {@code need} pages that no free run holds, or 0 when the
     * reservation cannot hold it: the free run ending at the frontier, if there is one, merges
     * with the growth and counts towards it. Lock held.
     */
    private int growthLocked(int need) {
        int shortfall = need;
        if (committedPages > 0) {
            int last = pageMap.spanAt(committedPages - 1);
            if (spans.state(last) == SpanTable.FREE) {
                shortfall = need - spans.pages(last);
            }
        }
        int step = growthStep(shortfall);
        return step < shortfall ? 0 : step;
    }

    /**
     * Bytes of free pages to release before growing by {@code step} pages, for the soft limit and
     * the scavenger's goal; 0 if none. Lock held.
     */
    private long releaseBeforeGrowth(int step) {
        if (inlineScavenging == null) {
            return 0;
        }
        return inlineScavenging.beforeGrowth(retainedBytesLocked(), (long) step << Pages.SHIFT, inUseBytesLocked());
    }

    private long retainedBytesLocked() {
        return (long) (committedPages - releasedFreePages) << Pages.SHIFT;
    }

    private long inUseBytesLocked() {
        return (long) (committedPages - freePages) << Pages.SHIFT;
    }

    /**
     * After a free sent a large span here, on the freeing thread with no lock held: releases what the
     * scavenger finds over its goal now (see {@link InlineScavenging}). Best effort: a refused
     * {@code madvise} leaves the pages to the background scavenger.
     */
    void scavengeAfterLargeFree() {
        long excess;
        LockWaits.lock(lock);
        try {
            if (closed || inlineScavenging == null) {
                return;
            }
            excess = inlineScavenging.afterLargeFree(retainedBytesLocked(), inUseBytesLocked());
        } finally {
            lock.unlock();
        }
        if (excess > 0) {
            try {
                release(excess, false);
            } catch (OsMemoryException refused) {
                // The background scavenger retries, and says so.
            }
        }
    }

    /** Returns span {@code id} (large or small) to the free runs, merging it with free neighbours. */
    void free(int id) {
        LockWaits.lock(lock);
        try {
            if (closed) {
                return;
            }
            freeLocked(id);
        } finally {
            lock.unlock();
        }
    }

    void freeLocked(int id) {
        int first = spans.start(id);
        int count = spans.pages(id);
        if (spans.state(id) == SpanTable.SMALL) {
            heldFreedBlocks.setRange(first, count);
            pageMap.setRange(first, count, id);
        } else {
            heldFreedBlocks.set(first);
        }
        spans.setState(id, SpanTable.FREE);
        spans.setReleasedPages(id, 0);
        spans.setSizeClass(id, 0);
        freePages += count;
        insertFree(id);
    }

    /**
     * The span or free run whose pages include committed page {@code page}: the one that starts at
     * the last span start at or below it. For the refusals of bad frees of pages inside a large
     * block or a free run, whose entries may name anything (see {@link PageMap}); a search of a bit
     * per page, so a page deep inside a run of terabytes costs milliseconds. Lock held.
     */
    int spanCoveringLocked(int page) {
        int start = spanStarts.last(0, page + 1, true);
        return start < 0 ? 0 : pageMap.spanAt(start);
    }

    /** True when free page {@code page} held blocks when its span was freed. Page heap lock. */
    boolean heldFreedBlocks(int page) {
        return heldFreedBlocks.get(page);
    }

    /**
     * Releases the physical memory of free pages, largest runs first, until {@code maxBytes} have
     * been released or every free page is. Returns the bytes released by this call.
     */
    public long release(long maxBytes) {
        return release(maxBytes, true);
    }

    /**
     * {@link #release(long)}; unless {@code mayBreakHugePages}, a heap that asks for transparent huge
     * pages keeps its dense huge pages whole: it releases wholly free 2 MiB-aligned stretches first,
     * then the free pages of stretches at least a quarter free, and never those of a denser one (see
     * {@link HugePageReleases}). Breaking one up costs every later access to its other pages a
     * walk of the small pages' table: with the scavenger off, a 256 MiB working set of 0-64 KiB
     * buffers took 38 ns per replacement with small pages and 30 with huge ones. The scavenger's
     * goal releases spare dense huge pages; {@code releaseMemory} and the soft limit break them too.
     *
     * <p>No system call under the lock, which every allocation that reaches the page heap needs:
     * the runs to release are taken out of the free runs (state {@link SpanTable#RELEASING}, so
     * that neither allocation nor coalescing touches them), the lock is dropped for the
     * {@code madvise} calls, and taken again to put the runs back, released, merged with any
     * neighbours freed meanwhile. Go's scavenger does the same.
     */
    long release(long maxBytes, boolean mayBreakHugePages) {
        ReleasePlan plan;
        LockWaits.lock(lock);
        try {
            // A release of everything (releaseMemory) first lets releases in flight finish, so that
            // when it returns every free page is released, theirs included.
            while (maxBytes == Long.MAX_VALUE && releasesInFlight > 0 && !closed) {
                lock.unlock();
                LockWaits.pause(RELEASE_POLL_NANOS);
                LockWaits.lock(lock);
            }
            if (closed) {
                return 0;
            }
            // Planned first, which allocates, and only then taken, which does not: an OutOfMemoryError
            // while planning leaves every run as it was.
            plan = ReleasePlan.of(spans, freeRuns, released, committedPages, metadataReleases, maxBytes,
                    hugePages && !mayBreakHugePages);
            int lastId = 0;
            for (long[] range : plan.ranges) {
                int id = (int) range[0];
                if (id != lastId) {
                    freeRuns.remove(id);
                    spans.setState(id, SpanTable.RELEASING);
                    lastId = id;
                }
            }
            if (!plan.ranges.isEmpty()) {
                releasesInFlight++;
            }
        } finally {
            lock.unlock();
        }
        if (plan.ranges.isEmpty()) {
            return 0;
        }
        // Each entry is {id, first page, pages}; a refused call ends the releasing, keeping what was
        // done. So does any other failure (an OutOfMemoryError in the downcall's setup): the runs
        // must go back whatever happens, or they would stay RELEASING and releaseMemory() would wait
        // for this release for ever.
        int doneRanges = 0;
        Throwable refusal = null;
        for (int r = 0; r < plan.ranges.size(); r++) {
            long[] range = plan.ranges.get(r);
            try {
                space.decommit(range[1] << Pages.SHIFT, range[2] << Pages.SHIFT);
            } catch (RuntimeException | Error e) {
                refusal = e;
                break;
            }
            doneRanges++;
            try {
                metadataReleases.release(plan.metadata.get(r));
            } catch (Error e) {
                refusal = e;
                break;
            }
        }
        long done = 0;
        LockWaits.lock(lock);
        try {
            for (int r = 0; r < plan.ranges.size(); r++) {
                long[] range = plan.ranges.get(r);
                int id = (int) range[0];
                if (r < doneRanges) {
                    int count = (int) range[2];
                    released.setRange((int) range[1], count);
                    spans.setReleasedPages(id, spans.releasedPages(id) + count);
                    releasedFreePages += count;
                    done += (long) count << Pages.SHIFT;
                }
                boolean lastRangeOfRun = r + 1 == plan.ranges.size() || plan.ranges.get(r + 1)[0] != id;
                if (lastRangeOfRun && !closed) {
                    spans.setState(id, SpanTable.FREE);
                    insertFree(id);
                }
            }
            releasesInFlight--;
        } finally {
            lock.unlock();
        }
        if (refusal instanceof RuntimeException e) {
            throw e;
        }
        if (refusal instanceof Error e) {
            throw e;
        }
        return done;
    }

    private int carve(int run, int pages, long alignBytes, byte state) {
        int runStart = spans.start(run);
        int runPages = spans.pages(run);
        int runReleased = spans.releasedPages(run);
        long runAddress = space.base() + ((long) runStart << Pages.SHIFT);
        long alignedAddress = AddressSpace.roundUp(runAddress, Math.max(alignBytes, Pages.SIZE));
        int first = runStart + (int) ((alignedAddress - runAddress) >>> Pages.SHIFT);
        int headPages = first - runStart;
        int tailPages = runStart + runPages - (first + pages);

        freeRuns.remove(run);
        int takenReleased = released.countRange(first, pages);
        int headReleased = headPages > 0 ? released.countRange(runStart, headPages) : 0;
        int tailReleased = runReleased - takenReleased - headReleased;
        released.clearRange(first, pages);
        heldFreedBlocks.clearRange(first, pages);
        freePages -= pages;
        releasedFreePages -= takenReleased;

        int id = spans.create(first, pages, state);
        spans.setReleasedPages(id, takenReleased);
        // A central list maps every page of a small-object span itself.
        pageMap.setEnds(first, pages, id);
        // The run's first page starts the head, or this span; the tail, if any, starts past it.
        spanStarts.set(first);
        if (tailPages > 0) {
            spanStarts.set(first + pages);
        }

        // What is left keeps the run's record, or the longer part does and the other gets one: both
        // need their first and last entries (the carved span's were inside the run, and may be 0).
        if (headPages == 0 && tailPages == 0) {
            spans.destroy(run);
        } else if (headPages == 0) {
            keepRun(run, first + pages, tailPages, tailReleased);
        } else if (tailPages == 0) {
            keepRun(run, runStart, headPages, headReleased);
        } else if (headPages >= tailPages) {
            keepRun(run, runStart, headPages, headReleased);
            newRun(first + pages, tailPages, tailReleased);
        } else {
            keepRun(run, first + pages, tailPages, tailReleased);
            newRun(runStart, headPages, headReleased);
        }
        return id;
    }

    /** Puts the part {@code [first, first + pages)} of free run {@code id} back as the whole run. */
    private void keepRun(int id, int first, int pages, int releasedCount) {
        pageMap.setEnds(first, pages, id);
        setRun(id, first, pages, releasedCount);
    }

    private void setRun(int id, int first, int pages, int releasedCount) {
        spans.setStart(id, first);
        spans.setPages(id, pages);
        spans.setReleasedPages(id, releasedCount);
        freeRuns.insert(id);
    }

    private void newRun(int first, int pages, int releasedCount) {
        int id = spans.create(first, pages, SpanTable.FREE);
        pageMap.setEnds(first, pages, id);
        setRun(id, first, pages, releasedCount);
    }

    /** Adds free record {@code id} to the tree, first merging it with free neighbours. */
    private void insertFree(int id) {
        int first = spans.start(id);
        if (first > 0) {
            int leftId = pageMap.spanAt(first - 1);
            if (spans.state(leftId) == SpanTable.FREE) {
                freeRuns.remove(leftId);
                id = merge(leftId, id);
            }
        }
        int end = spans.start(id) + spans.pages(id);
        if (end < committedPages) {
            int rightId = pageMap.spanAt(end);
            if (spans.state(rightId) == SpanTable.FREE) {
                freeRuns.remove(rightId);
                id = merge(id, rightId);
            }
        }
        freeRuns.insert(id);
    }

    /** Merges adjacent free records (lower first) into the longer one's record. */
    private int merge(int lower, int upper) {
        int upperStart = spans.start(upper);
        int survivor = spans.pages(lower) >= spans.pages(upper) ? lower : upper;
        int other = survivor == lower ? upper : lower;
        // One of the other's ends becomes the merged run's end; the entries inside may name anything.
        pageMap.setEnds(spans.start(other), spans.pages(other), survivor);
        spans.setStart(survivor, spans.start(lower));
        spans.setPages(survivor, spans.pages(lower) + spans.pages(upper));
        spans.setReleasedPages(survivor, spans.releasedPages(lower) + spans.releasedPages(upper));
        spans.destroy(other);
        // The upper run's first page no longer starts one.
        spanStarts.clearRange(upperStart, 1);
        return survivor;
    }

    /** Adds the {@code step} pages just committed past the frontier as a free, released run. Lock held. */
    private void publishGrowth(int step) {
        int first = committedPages;
        // The bitmaps first: growing them allocates, and an OutOfMemoryError must find nothing changed.
        released.ensureCapacity(first + step);
        heldFreedBlocks.ensureCapacity(first + step);
        spanStarts.ensureCapacity(first + step);
        committedPages += step;
        // Fresh pages have never been touched: like released pages they cost no RSS and read as zero.
        released.setRange(first, step);
        freePages += step;
        releasedFreePages += step;
        int id = spans.create(first, step, SpanTable.FREE);
        spans.setReleasedPages(id, step);
        pageMap.setEnds(first, step, id);
        spanStarts.set(first);
        insertFree(id);
    }

    /** The pages a growth for {@code minPages} commits: whole steps, capped by the reservation. */
    private int growthStep(int minPages) {
        int step = (Math.max(minPages, commitStepPages) + commitStepPages - 1) / commitStepPages * commitStepPages;
        return Math.min(step, reservedPages - committedPages);
    }

    // ---- queries ----

    long base() {
        return space.base();
    }

    long reservedBytes() {
        return space.reservedBytes();
    }

    /** Bytes committed so far; read without the lock by {@code free}, see PageMap. */
    long committedBytes() {
        return space.committedBytes();
    }

    /** A consistent snapshot of the page counts: {committed, free, releasedFree}. */
    PageCounts counts() {
        LockWaits.lock(lock);
        try {
            return countsLocked();
        } finally {
            lock.unlock();
        }
    }

    private PageCounts countsLocked() {
        return new PageCounts(committedPages, freePages, releasedFreePages,
                freeRuns.size(), spans.liveRecords(), spans.footprintBytes());
    }

    /** Page counts read together under the lock. */
    record PageCounts(int committed, int free, int releasedFree,
                      int freeRuns, int spanRecords, long spanMetadataBytes) {
        int inUse() {
            return committed - free;
        }
    }

    /**
     * Checks every invariant of the page heap and throws {@link IllegalStateException} naming the
     * first one that does not hold; see {@link PageHeapVerifier#verify}. Once closed, throws the
     * heap's closed exception instead: the close swapped the page map for zero pages, which would
     * read as broken (a verify racing the heap's close met that).
     */
    void verify() {
        LockWaits.lock(lock);
        try {
            checkOpenLocked();
            PageHeapVerifier.verify(spans, pageMap, freeRuns, released, heldFreedBlocks, spanStarts, countsLocked(),
                    releasesInFlight);
        } finally {
            lock.unlock();
        }
    }

    /** The pages as text, one character each; see {@link PageHeapVerifier#describe}. Used by table-driven tests. */
    String describe() {
        LockWaits.lock(lock);
        try {
            checkOpenLocked();
            return PageHeapVerifier.describe(spans, pageMap, released, committedPages);
        } finally {
            lock.unlock();
        }
    }

    /** How many spans are in {@code state} now (verification). */
    int spansInState(byte state) {
        LockWaits.lock(lock);
        try {
            int count = 0;
            for (int id = 1; id < spans.highWater(); id++) {
                if (spans.state(id) == state) {
                    count++;
                }
            }
            return count;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Gives the address space up (see {@link AddressSpace#close()}); every later request finds
     * nothing. Waits for a growth in flight first ({@link #growLock}): the close unmaps the
     * reservation above the frontier, and a commit there after the unmapping would map pages over
     * whatever the process had mapped there meanwhile.
     */
    void close() {
        LockWaits.lock(growLock);
        try {
            LockWaits.lock(lock);
            try {
                closed = true;
                // The scavenger holds the heap: a closed page heap that something still reaches (a
                // thread's cache cleaner) must not keep the rest of the heap from being collected.
                inlineScavenging = null;
                    space.close();
            } finally {
                lock.unlock();
            }
        } finally {
            growLock.unlock();
        }
    }

    /** Whether {@link #close()} has run. Page heap lock. */
    boolean isClosedLocked() {
        return closed;
    }

    /** Throws the heap's closed exception once {@link #close()} has run. Page heap lock. */
    private void checkOpenLocked() {
        if (closed) {
            throw FreeChecks.closed();
        }
    }
}
