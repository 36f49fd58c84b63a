package dev.spanheap.internal;

import java.util.concurrent.atomic.LongAdder;

/**
 * Blocks larger than the largest size class, or aligned beyond what a class gives, and sampled
 * blocks: spans of whole pages (Go's large objects, mheap's allocSpan for them), from the page heap
 * under its lock. Up to {@link ThreadCache#LARGE_CACHED_PAGES} pages, a freed span may stay in the
 * freeing thread's cache (state CACHED) without a lock, and serve that thread's next sample of its
 * length; otherwise it goes back to the page heap. (Every other request of up to 1 MiB has a size
 * class, so no counted block comes out of a cache.)
 *
 * <p>Double frees are always caught: a span moves LARGE to CACHED by compare-and-set, so the second
 * of two frees fails wherever it runs, and the page heap's free checks the state under its lock.
 * Counts of the blocks that went through the page heap live here; those that went through a thread
 * cache, in that cache; sampled blocks ({@link SpanTable#SAMPLED}), in the {@link HeapProfiler}.
 */
final class LargeBlocks {

    private final PageHeap pageHeap;
    private final SpanTable spans;
    private final long base;
    private final LongAdder mallocs = new LongAdder();
    private final LongAdder frees = new LongAdder();
    private final LongAdder bytesAllocated = new LongAdder();
    private final LongAdder bytesFreed = new LongAdder();

    /** Told, under the page heap's lock, of every sampled block handed out and freed. */
    private final HeapProfiler profiler;

    LargeBlocks(PageHeap pageHeap, HeapProfiler profiler) {
        this.pageHeap = pageHeap;
        this.profiler = profiler;
        this.spans = pageHeap.spans;
        this.base = pageHeap.base();
    }

    /**
     * A block of {@code pages} pages aligned to {@code alignment}, from the page heap. Returns 0
     * when the heap cannot hold it.
     */
    long allocate(int pages, long alignment) {
        int span = pageHeap.allocate(pages, alignment, SpanTable.LARGE);
        if (span == 0) {
            return 0;
        }
        mallocs.increment();
        bytesAllocated.add((long) pages << Pages.SHIFT);
        return base + ((long) spans.start(span) << Pages.SHIFT);
    }

    /**
     * A block of {@code pages} pages aligned to {@code alignment} for a sampled allocation: a span in
     * state {@link SpanTable#SAMPLED}, with {@code sample} recorded at its address before any free of
     * it can run. From {@code cache}'s kept spans when it has one of that length
     * (a null cache has none; its alignment must then be at most a page), otherwise from the page
     * heap. Returns 0 when the heap cannot hold it. The profiler, not this class, counts sampled
     * blocks, at the size they stand for.
     */
    long allocateSampled(ThreadCache cache, int pages, long alignment, HeapProfiler.Sample sample) {
        int cached = cache != null ? cache.popLargeForSample(pages) : 0;
        if (cached != 0) {
            long address = base + ((long) spans.start(cached) << Pages.SHIFT);
            // The span is this cache's (CACHED) until the release below publishes it, sample first.
            try {
                record(address, sample);
            } catch (OutOfMemoryError fullJavaHeap) {
                cache.returnLargeForSample(cached, pages);
                throw fullJavaHeap;
            }
            spans.setStateRelease(cached, SpanTable.SAMPLED);
            return address;
        }
        int span = pageHeap.allocate(pages, alignment, SpanTable.SAMPLED);
        if (span == 0) {
            return 0;
        }
        long address = base + ((long) spans.start(span) << Pages.SHIFT);
        LockWaits.lock(pageHeap.lock);
        try {
            // Still ours unless a free of an address never handed out raced us; then it is gone.
            if (spans.state(span) == SpanTable.SAMPLED && spans.start(span) == (int) ((address - base) >>> Pages.SHIFT)) {
                try {
                    record(address, sample);
                } catch (OutOfMemoryError fullJavaHeap) {
                    pageHeap.freeLocked(span);
                    throw fullJavaHeap;
                }
            }
        } finally {
            pageHeap.lock.unlock();
        }
        return address;
    }

    /**
     * Records {@code sample} for the block at {@code address}. On a full Java heap it drops what the
     * profiler's map may hold (the map grows after it inserts) and rethrows, for the caller to give
     * the span back. The address is boxed once, before the map is touched, so that dropping it
     * allocates nothing.
     */
    private void record(long address, HeapProfiler.Sample sample) {
        Long key = null;
        try {
            key = address;
            profiler.record(key, sample);
        } catch (OutOfMemoryError fullJavaHeap) {
            if (key != null) {
                profiler.forget(key);
            }
            throw fullJavaHeap;
        }
    }

    /**
     * Keeps the freed block of span {@code span}, starting at page {@code page}, in {@code cache} if
     * it is a live large span of at most {@link ThreadCache#LARGE_CACHED_PAGES} pages and the cache
     * has room; false sends the free to {@link #free}, which also explains any error.
     */
    boolean keep(ThreadCache cache, int span, int page) {
        // Span 0 is no span: a page-map entry of 0 names it.
        if (span == 0 || spans.start(span) != page) {
            return false;
        }
        int pages = spans.pages(span);
        if (!cache.hasLargeRoom(pages)) {
            return false;
        }
        boolean sampled = false;
        if (!spans.compareAndSetState(span, SpanTable.LARGE, SpanTable.CACHED)) {
            // A sampled block: the same exchange, and its sample goes (SAMPLED's class byte is 0 too).
            if (spans.state(span) != SpanTable.SAMPLED
                    || !spans.compareAndSetState(span, SpanTable.SAMPLED, SpanTable.CACHED)) {
                return false;
            }
            sampled = true;
            profiler.freed(base + ((long) page << Pages.SHIFT));
        }
        // Its pages are dirty now: allocateZeroed must clear them when the span is reused.
        spans.setReleasedPages(span, 0);
        cache.pushLarge(span, pages, !sampled);
        if (sampled && profiler.hasManyPending()) {
            profiler.resolvePending(HeapProfiler.HELPING_BATCH);
        }
        return true;
    }

    /**
     * Frees the block at {@code address} (heap offset {@code offset}) to the page heap; a sampled
     * block's sample goes with it. Returns whether it was a sampled block.
     *
     * <p>The block's span is looked up under the page heap's lock, not taken from the caller's
     * page-map read: a free run named by an entry read without the lock may be merged into a
     * neighbour meanwhile (by a release putting its runs back, or another thread's free), its
     * record destroyed, and a double free of a block in those pages was then refused as an address
     * in free pages (SpanheapErrorsTest met this about once in ten runs).
     */
    boolean free(long address, long offset) {
        int page = (int) (offset >>> Pages.SHIFT);
        boolean pageStart = (offset & (Pages.SIZE - 1)) == 0;
        long bytes;
        byte state;
        LockWaits.lock(pageHeap.lock);
        try {
            if (pageHeap.isClosedLocked()) {
                throw FreeChecks.closed();
            }
            int span = pageHeap.pageMap.spanAt(page);
            state = spans.state(span);
            if (isLive(state) && spans.start(span) == page && pageStart) {
                bytes = (long) spans.pages(span) << Pages.SHIFT;
                if (state == SpanTable.SAMPLED) {
                    profiler.freed(address);
                }
                pageHeap.freeLocked(span);
            } else {
                throw refusalLocked(address, page, pageStart, true);
            }
        } finally {
            pageHeap.lock.unlock();
        }
        if (bytes >= PageHeap.INLINE_SCAVENGE_MIN_BYTES) {
            pageHeap.scavengeAfterLargeFree();
        }
        if (state == SpanTable.SAMPLED) {
            return true;
        }
        frees.increment();
        bytesFreed.add(bytes);
        return false;
    }

    /** A span that holds a user's block: LARGE, or SAMPLED by the profiler. */
    private static boolean isLive(byte state) {
        return state == SpanTable.LARGE || state == SpanTable.SAMPLED;
    }

    /** The bytes of the live large block at {@code address} (heap offset {@code offset}); its span as {@link #free} finds it. */
    long usableSize(long address, long offset) {
        LockWaits.lock(pageHeap.lock);
        try {
            if (pageHeap.isClosedLocked()) {
                throw FreeChecks.closed();
            }
            int page = (int) (offset >>> Pages.SHIFT);
            boolean pageStart = (offset & (Pages.SIZE - 1)) == 0;
            int span = pageHeap.pageMap.spanAt(page);
            byte state = spans.state(span);
            if (isLive(state) && spans.start(span) == page && pageStart) {
                long sampled = state == SpanTable.SAMPLED ? profiler.blockSize(address) : -1;
                return sampled >= 0 ? sampled : (long) spans.pages(span) << Pages.SHIFT;
            }
            throw refusalLocked(address, page, pageStart, false);
        } finally {
            pageHeap.lock.unlock();
        }
    }

    /**
     * Why {@code address} (on {@code page}) is not a live large block, as the
     * exception to throw: a block freed already (a double free when {@code freeing}), a pointer into
     * a live block or past the end of a sampled one, or an address in free pages. Under the page
     * heap's lock.
     */
    private RuntimeException refusalLocked(long address, int page, boolean pageStart, boolean freeing) {
        // Not the page's entry: inside a large block or a free run it may name anything (see PageMap).
        int span = pageHeap.spanCoveringLocked(page);
        byte state = spans.state(span);
        if ((state == SpanTable.FREE || state == SpanTable.RELEASING) && pageHeap.heldFreedBlocks(page)
                || state == SpanTable.CACHED && spans.start(span) == page && pageStart) {
            return freeing ? FreeChecks.doubleFree(address) : FreeChecks.notAllocated(address);
        }
        if (isLive(state)) {
            long start = base + ((long) spans.start(span) << Pages.SHIFT);
            // A sampled block has whole pages to itself but is its class's size, as usableSize says:
            // past that size its pages hold no block (unsampled, they would hold its class's others).
            long sampled = state == SpanTable.SAMPLED ? profiler.blockSize(start) : -1;
            long blockSize = sampled >= 0 ? sampled : (long) spans.pages(span) << Pages.SHIFT;
            return address - start < blockSize ? FreeChecks.interior(address, blockSize)
                    : FreeChecks.pastBlockEnd(address, start, blockSize);
        }
        return FreeChecks.inFreePages(address);
    }

    long mallocs() {
        return mallocs.sum();
    }

    long frees() {
        return frees.sum();
    }

    long bytesAllocated() {
        return bytesAllocated.sum();
    }

    long bytesFreed() {
        return bytesFreed.sum();
    }
}
