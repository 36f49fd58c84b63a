package dev.spanheap.tests;

/**
 * One step of a random heap workload, on thread {@code thread} (0 or 1) where the step has a thread.
 * A {@code pick} chooses among the model's live (or freed) blocks, modulo their number, so that a
 * shrunk sequence stays meaningful when the steps before it change.
 */
sealed interface HeapOp {

    /** How a block is allocated or freed: the heap's segment API, its raw addresses, or the thread's LocalHeap. */
    enum Via { SEGMENT, ADDRESS, LOCAL_HEAP }

    /** A valid {@code allocate(size, alignment)} ({@code malloc(size)} when {@code via} is ADDRESS). */
    record Allocate(int thread, long size, long alignment, Via via) implements HeapOp {
    }

    record AllocateZeroed(int thread, long size) implements HeapOp {
    }

    /** Frees a live block. */
    record Free(int thread, int pick, Via via) implements HeapOp {
    }

    /** Frees again an address freed earlier and not handed out since: must be refused. */
    record FreeStale(int thread, int pick) implements HeapOp {
    }

    /** Frees an address inside a live block: must be refused. */
    record FreeInterior(int thread, int pick, long delta) implements HeapOp {
    }

    /** Frees something the heap never handed out: must be refused. */
    record FreeForeign(int thread, Foreign what) implements HeapOp {
    }

    enum Foreign { NULL_ADDRESS, NULL_SEGMENT, JDK_SEGMENT, LOW_ADDRESS, HIGH_ADDRESS }

    /** An allocation with a negative size, a size over the limit or an alignment that is not a power of two. */
    record BadAllocate(int thread, long size, long alignment) implements HeapOp {
    }

    /**
     * Resizes a live block, through its segment or its address: contents kept up to the smaller
     * size, and in checked mode the old segment stops working.
     */
    record Reallocate(int thread, int pick, long newSize, Via via) implements HeapOp {
    }

    /** Reads through the segment of a block freed or reallocated earlier: checked mode must refuse. */
    record UseAfterFree(int thread, int pick) implements HeapOp {
    }

    record UsableSize(int thread, int pick) implements HeapOp {
    }

    record ReleaseMemory(int thread) implements HeapOp {
    }

    record FlushThreadCache(int thread) implements HeapOp {
    }

    /**
     * With no block in use and the other thread's cache flushed, a block of the whole limit: only
     * memory kept idle stands in its way, and the heap must take that back rather than refuse.
     */
    record AllocateWholeHeap(int thread) implements HeapOp {
    }

    /** Closes the heap: every later step must throw {@code IllegalStateException}. */
    record Close(int thread) implements HeapOp {
    }

    int thread();
}
