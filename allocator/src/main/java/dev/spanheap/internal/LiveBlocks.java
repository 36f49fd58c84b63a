package dev.spanheap.internal;

import java.lang.foreign.MemorySegment;

/**
 * What {@link Heap} does to a live block besides handing it out and taking it back: tells its
 * usable size, clears it for {@code allocateZeroed}, and resizes it for {@code reallocate}. Kept
 * apart from the heap's fast paths because none of it is one; each call checks the address the
 * way a free does ({@link FreeChecks}) and reports a race with {@link Heap#close()} as the close.
 */
final class LiveBlocks {

    private final Heap heap;
    private final PageMap pageMap;
    private final SpanTable spans;
    private final FreeMarks marks;
    private final LargeBlocks large;
    private final FreeChecks freeChecks;
    private final HeapSegments segments;
    /** Checked mode's per-segment scopes; null when unchecked. */
    private final BlockScopes blockScopes;
    private final long base;

    LiveBlocks(Heap heap, PageHeap pageHeap, FreeMarks marks, LargeBlocks large, FreeChecks freeChecks,
            HeapSegments segments, BlockScopes blockScopes) {
        this.heap = heap;
        this.pageMap = pageHeap.pageMap;
        this.spans = pageHeap.spans;
        this.marks = marks;
        this.large = large;
        this.freeChecks = freeChecks;
        this.segments = segments;
        this.blockScopes = blockScopes;
        this.base = pageHeap.base();
    }

    /**
     * Clears the block just allocated at {@code address} ({@code size} bytes asked for), unless it
     * is a large span whose pages are all released: those read as zero already. Returns the address.
     */
    long zeroed(long address, long size) {
        long offset = address - base;
        int span = pageMap.spanAt((int) (offset >>> Pages.SHIFT));
        if (spans.sizeClass(span) == 0 && spans.releasedPages(span) == spans.pages(span)) {
            return address;
        }
        try {
            segments.memory().asSlice(offset, Math.max(size, 1)).fill((byte) 0);
        } catch (IllegalStateException segmentClosed) {
            throw FreeChecks.closed();
        }
        return address;
    }

    /** The usable size of the live block at {@code address}; {@code operation} names the call in a refusal of 0. */
    long usableSize(long address, String operation) {
        try {
            return usableSizeChecked(address, operation);
        } catch (RuntimeException e) {
            throw heap.closedOr(e);
        }
    }

    private long usableSizeChecked(long address, String operation) {
        long entry = freeChecks.checkedEntry(address, heap.isClosed(), operation);
        long offset = address - base;
        int c = PageMap.sizeClass(entry);
        if (c != 0) {
            if (marks.isFree(address, c)) {
                throw FreeChecks.notAllocated(address);
            }
            // The entry again, after the mark, as a free reads it: if the block's span went back to
            // the page heap meanwhile, look again from the start.
            if (!pageMap.stillMaps(offset, entry)) {
                return usableSizeChecked(address, operation);
            }
            return SizeClasses.SIZE[c];
        }
        return large.usableSize(address, offset);
    }

    /** See {@link Heap#reallocate(long, long)}. */
    long reallocate(long address, long newSize) {
        long usable = usableSize(address, "reallocate");
        if (newSize < 0) {
            throw new IllegalArgumentException("negative size: " + newSize);
        }
        if (newSize <= usable && newSize >= usable >>> 1) {
            if (blockScopes != null) {
                blockScopes.end(address);
            }
            return address;
        }
        long moved = heap.allocate(newSize, 1);
        try {
            MemorySegment memory = segments.memory();
            MemorySegment.copy(memory, address - base, memory, moved - base, Math.min(usable, newSize));
        } catch (IllegalStateException segmentClosed) {
            throw FreeChecks.closed();
        }
        if (moved == address) {
            // The old block was live when checked, so only a free racing this call can have let the
            // new one take its place: freeing "the old block" now would free the new one.
            heap.free(moved);
            throw FreeChecks.doubleFree(address);
        }
        try {
            heap.free(address);
        } catch (RuntimeException refused) {
            // The old block was not live after all (a free racing this call, or the heap's close):
            // the new one goes back, so that a refused reallocation changes nothing.
            try {
                heap.free(moved);
            } catch (RuntimeException alsoRefused) {
                refused.addSuppressed(alsoRefused);
            }
            throw refused;
        }
        return moved;
    }
}
