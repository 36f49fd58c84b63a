package dev.spanheap.netty;

import io.netty.buffer.UnpooledHeapByteBuf;

/** Netty's heap buffer, counted in the allocator's {@code usedHeapMemory}. */
final class SpanheapHeapByteBuf extends UnpooledHeapByteBuf {

    SpanheapHeapByteBuf(SpanheapByteBufAllocator allocator, int initialCapacity, int maxCapacity) {
        super(allocator, initialCapacity, maxCapacity);
    }

    @Override
    protected byte[] allocateArray(int length) {
        byte[] array = super.allocateArray(length);
        ((SpanheapByteBufAllocator) alloc()).heapArrayAllocated(array.length);
        return array;
    }

    @Override
    protected void freeArray(byte[] array) {
        ((SpanheapByteBufAllocator) alloc()).heapArrayFreed(array.length);
        super.freeArray(array);
    }
}
