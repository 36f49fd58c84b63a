package dev.spanheap.internal;

/**
 * Every free that {@link Heap}'s fast paths do not serve: a checked small free whose class is full
 * in the thread's cache, a large block the thread's cache may keep, and everything else, checked
 * from the start with every message that refuses an address ({@link FreeChecks}): large blocks, a
 * virtual thread's stripe, checked mode's scopes and allocation bits. Kept apart from the fast
 * paths so that they stay short; they reach this through one call out of line.
 */
final class SlowFrees {

    private final Heap heap;
    private final ThreadCaches caches;
    private final FreeMarks marks;
    private final LargeBlocks large;
    private final FreeChecks freeChecks;
    private final HeapProfiler profiler;
    /** Checked mode's allocation bits and per-segment scopes; both null when unchecked. */
    private final AllocationBits allocationBits;
    private final BlockScopes blockScopes;
    private final boolean checked;

    SlowFrees(Heap heap, ThreadCaches caches, FreeMarks marks, LargeBlocks large, FreeChecks freeChecks,
            HeapProfiler profiler, AllocationBits allocationBits, BlockScopes blockScopes) {
        this.heap = heap;
        this.caches = caches;
        this.marks = marks;
        this.large = large;
        this.freeChecks = freeChecks;
        this.profiler = profiler;
        this.allocationBits = allocationBits;
        this.blockScopes = blockScopes;
        this.checked = allocationBits != null;
    }

    /**
     * The rest of {@link Heap#free(ThreadCache, long)}, given the page-map {@code entry} it read (0 if
     * the address is outside the fast paths' range): a checked small free whose class
     * {@code overflowClass} is full in the cache (not yet marked free), a large block the
     * cache may keep, or anything else, which {@link #free(long)} checks again and explains.
     * {@code cache} is the calling thread's, or null if the fast path did not load it.
     */
    void free(ThreadCache cache, long address, long entry, int overflowClass) {
        if (overflowClass != 0) {
            StackHeadroom.ensure();
            marks.markFree(address, overflowClass);
            ownCache(cache).overflow(overflowClass, address);
            return;
        }
        long offset = address - heap.base();
        // Entry 0 (the fast path did not read the page map: checked mode, or an address outside the
        // heap) names span 0, which LargeBlocks.keep would refuse; free(long) checks such frees.
        if (entry != 0 && PageMap.sizeClass(entry) == 0 && (offset & (Pages.SIZE - 1)) == 0) {
            StackHeadroom.ensure();
            if (large.keep(ownCache(cache), PageMap.span(entry), (int) (offset >>> Pages.SHIFT))) {
                return;
            }
            free(address, true);
            return;
        }
        free(address, false);
    }

    /** {@code cache}, or when null the calling thread's, whose array the fast path found. */
    private ThreadCache ownCache(ThreadCache cache) {
        return cache != null ? cache : caches.currentCache();
    }

    /**
     * Every free the fast paths do not serve, with every check and its message. A failure that raced
     * {@link Heap#close()} (the page map read as empty after close, say) is reported as the close.
     */
    void free(long address) {
        free(address, false);
    }

    /**
     * {@link #free(long)}; {@code largeChecked}: the caller checked the stack and offered the
     * block, a large one, to its thread's cache, which refused it, so neither is done again.
     */
    private void free(long address, boolean largeChecked) {
        try {
            freeChecked(address, largeChecked);
        } catch (RuntimeException e) {
            throw heap.closedOr(e);
        }
    }

    private void freeChecked(long address, boolean largeChecked) {
        long entry = freeChecks.checkedEntry(address, heap.isClosed(), "free");
        if (checked) {
            // Before the block can be handed out again: its old segment must stop working first.
            blockScopes.end(address);
        }
        long offset = address - heap.base();
        int c = PageMap.sizeClass(entry);
        if (c == 0) {
            ThreadCache cache = null;
            if (!largeChecked) {
                StackHeadroom.ensure();
                cache = heap.fastPaths() && (offset & (Pages.SIZE - 1)) == 0 ? caches.currentCache() : null;
            }
            if ((cache == null || !large.keep(cache, PageMap.span(entry), (int) (offset >>> Pages.SHIFT)))
                    && large.free(address, offset) && profiler.hasManyPending()) {
                profiler.resolvePending(HeapProfiler.HELPING_BATCH);
            }
            return;
        }
        if (marks.isFree(address, c)) {
            throw FreeChecks.doubleFree(address);
        }
        // The entry again, after the mark: if the block's span went back to the page heap meanwhile,
        // the free starts over. (A free of a block under 128 B in a loop of 2000, racing the
        // scavenger's return of idle central memory while this code ran in the interpreter, was let
        // through once before this check.)
        if (!heap.pageHeap().pageMap.stillMaps(offset, entry)) {
            freeChecked(address, largeChecked);
            return;
        }
        ThreadCache cache = caches.local.get();
        boolean stackChecked = cache != null ? cache.isFull(c) : checked;
        if (stackChecked) {
            // Before the block is marked free (its mark, and in checked mode its allocation bit):
            // the overflow calls out, as a virtual thread's free does to reach its stripe (checked
            // mode marks the bit before that), and a StackOverflowError there would leave it marked
            // free but in no cache. What follows does not check again, deeper (freeShared): on a
            // virtual thread in checked mode, 15-22 of 34-40 overflowed frees lost their block so.
            StackHeadroom.ensure();
        }
        if (checked && !allocationBits.markFree(offset)) {
            throw FreeChecks.doubleFree(address);
        }
        if (cache != null) {
            if (!cache.free(c, address, marks)) {
                marks.markFree(address, c);
                cache.overflow(c, address);
            }
        } else {
            caches.stripes().freeShared(c, address, marks, stackChecked);
        }
    }
}
