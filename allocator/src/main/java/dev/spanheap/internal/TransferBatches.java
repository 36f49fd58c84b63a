package dev.spanheap.internal;

/**
 * How many objects of each size class move at once between a thread cache and its central list
 * (TCMalloc's num_objects_to_move): about 64 KiB, between 2 and {@link #MAX} objects. A leaf: both
 * rungs read it, the cache to refill and drain, the central list to size its transfer stack.
 */
final class TransferBatches {

    static final int MAX = 32;
    /** Objects per batch, by size class. */
    static final int[] OBJECTS = new int[SizeClasses.COUNT];

    static {
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            OBJECTS[c] = Math.clamp((64 << 10) / SizeClasses.SIZE[c], 2, MAX);
        }
    }

    private TransferBatches() {
    }
}
