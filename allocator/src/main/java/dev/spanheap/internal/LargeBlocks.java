package dev.spanheap.internal;

import java.util.concurrent.atomic.LongAdder;

/**
 * Blocks larger than the largest size class, or aligned beyond what a class gives: spans of whole
 * pages (Go's large objects, mheap's allocSpan for them). Up to {@link ThreadCache#LARGE_CACHED_PAGES}
 * pages, a freed span may stay in the freeing thread's cache (state CACHED) and go out again
 * without a lock; otherwise it comes from and goes back to the page heap under its lock.
 *
 * <p>Double frees are always caught: a span moves LARGE to CACHED by compare-and-set, so the second
 * of two frees fails wherever it runs, and the page heap's free checks the state under its lock.
 * Counts of the blocks that went through the page heap live here; those that went through a thread
 * cache, in that cache.
 */
final class LargeBlocks {

    private final PageHeap pageHeap;
    private final SpanTable spans;
    private final long base;
    private final LongAdder mallocs = new LongAdder();
    private final LongAdder frees = new LongAdder();
    private final LongAdder bytesAllocated = new LongAdder();
    private final LongAdder bytesFreed = new LongAdder();

    LargeBlocks(PageHeap pageHeap) {
        this.pageHeap = pageHeap;
        this.spans = pageHeap.spans;
        this.base = pageHeap.base();
    }

    /**
     * A block of {@code pages} pages aligned to {@code alignment}: from {@code cache}'s kept spans
     * when it has one of that length (a null cache has none), otherwise from the page heap. Returns
     * 0 when the heap cannot hold it.
     */
    long allocate(ThreadCache cache, int pages, long alignment) {
        int cached = cache != null ? cache.popLarge(pages) : 0;
        if (cached != 0) {
            return handOutCached(cached);
        }
        int span = pageHeap.allocate(pages, alignment, SpanTable.LARGE);
        if (span == 0) {
            return 0;
        }
        mallocs.increment();
        bytesAllocated.add((long) pages << Pages.SHIFT);
        return base + ((long) spans.start(span) << Pages.SHIFT);
    }

    /** The block of a span a thread cache kept (CACHED), made LARGE again. */
    long handOutCached(int span) {
        // Only the cache moves its spans out of CACHED; frees race with it by CAS from LARGE.
        spans.setStateRelease(span, SpanTable.LARGE);
        return base + ((long) spans.start(span) << Pages.SHIFT);
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
        if (!cache.hasLargeRoom(pages) || !spans.compareAndSetState(span, SpanTable.LARGE, SpanTable.CACHED)) {
            return false;
        }
        // Its pages are dirty now: allocateZeroed must clear them when the span is reused.
        spans.setReleasedPages(span, 0);
        cache.pushLarge(span, pages);
        return true;
    }

    /** Frees the block at {@code address} (heap offset {@code offset}) of span {@code span} to the page heap. */
    void free(long address, long offset, int span) {
        int page = (int) (offset >>> Pages.SHIFT);
        boolean pageStart = (offset & (Pages.SIZE - 1)) == 0;
        long bytes;
        pageHeap.lock.lock();
        try {
            if (pageHeap.isClosedLocked()) {
                throw FreeChecks.closed();
            }
            if (spans.state(span) == SpanTable.LARGE && spans.start(span) == page && pageStart) {
                bytes = (long) spans.pages(span) << Pages.SHIFT;
                pageHeap.freeLocked(span);
            } else {
                throw refusalLocked(address, span, page, pageStart, true);
            }
        } finally {
            pageHeap.lock.unlock();
        }
        frees.increment();
        bytesFreed.add(bytes);
    }

    /** The bytes of the live large block at {@code address} (heap offset {@code offset}) of span {@code span}. */
    long usableSize(long address, long offset, int span) {
        pageHeap.lock.lock();
        try {
            if (pageHeap.isClosedLocked()) {
                throw FreeChecks.closed();
            }
            int page = (int) (offset >>> Pages.SHIFT);
            boolean pageStart = (offset & (Pages.SIZE - 1)) == 0;
            if (spans.state(span) == SpanTable.LARGE && spans.start(span) == page && pageStart) {
                return (long) spans.pages(span) << Pages.SHIFT;
            }
            throw refusalLocked(address, span, page, pageStart, false);
        } finally {
            pageHeap.lock.unlock();
        }
    }

    /**
     * Why {@code address} (on {@code page} of {@code span}) is not a live large block, as the
     * exception to throw: a block freed already (a double free when {@code freeing}), a pointer into
     * a live block, or an address in free pages. Under the page heap's lock.
     */
    private RuntimeException refusalLocked(long address, int span, int page, boolean pageStart, boolean freeing) {
        byte state = spans.state(span);
        if ((state == SpanTable.FREE || state == SpanTable.RELEASING) && pageHeap.heldFreedBlocks(page)
                || state == SpanTable.CACHED && spans.start(span) == page && pageStart) {
            return freeing ? FreeChecks.doubleFree(address) : FreeChecks.notAllocated(address);
        }
        if (state == SpanTable.LARGE) {
            return FreeChecks.interior(address, (long) spans.pages(span) << Pages.SHIFT);
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
