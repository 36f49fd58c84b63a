package dev.spanheap.netty;

import io.netty.buffer.UnpooledUnsafeDirectByteBuf;
import io.netty.util.internal.CleanableDirectBuffer;

/**
 * Netty's direct buffer that reads and writes through Netty's own unsafe memory access (where
 * {@code PlatformDependent.hasUnsafe()}), over a heap block; this module itself calls no such API.
 */
final class SpanheapUnsafeDirectByteBuf extends UnpooledUnsafeDirectByteBuf {

    SpanheapUnsafeDirectByteBuf(SpanheapByteBufAllocator allocator, int initialCapacity, int maxCapacity) {
        super(allocator, initialCapacity, maxCapacity);
    }

    /**
     * Called by Netty's constructor (before this class's fields exist, hence {@code alloc()}) and
     * by {@code capacity(int)} for the new memory.
     */
    @Override
    protected CleanableDirectBuffer allocateDirectBuffer(int capacity) {
        return ((SpanheapByteBufAllocator) alloc()).allocateBlock(capacity);
    }
}
