package dev.spanheap.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Checked mode's exact record of which small objects are with a user: one bit per 8-byte granule
 * of the heap (an object's first granule), set on allocate and cleared on free with atomic
 * read-modify-writes, so a second free of any object is caught whatever happened in between and
 * whichever threads were involved. Off the default path: costs one atomic per allocate and free.
 *
 * <p>Layout: a flat off-heap bitmap, bit {@code (address - base) >>> 3}, in 64-bit words; a 64 GiB
 * reservation needs 1 GiB of address space here, touched only where the heap is used.
 */
final class AllocationBits {

    private static final VarHandle WORD = ValueLayout.JAVA_LONG.varHandle();

    private final MemorySegment bits;

    AllocationBits(MemorySegment bits) {
        this.bits = bits;
    }

    static long bytesFor(long heapBytes) {
        return heapBytes >>> 6;
    }

    /** Marks the object at heap offset {@code offset} allocated. */
    void markAllocated(long offset) {
        long granule = offset >>> 3;
        WORD.getAndBitwiseOr(bits, (granule >>> 6) << 3, 1L << granule);
    }

    /** Marks it free; false if it was not allocated (a double free). */
    boolean markFree(long offset) {
        long granule = offset >>> 3;
        long bit = 1L << granule;
        long before = (long) WORD.getAndBitwiseAnd(bits, (granule >>> 6) << 3, ~bit);
        return (before & bit) != 0;
    }
}
