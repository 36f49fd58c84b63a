package dev.spanheap.netty;

import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.util.internal.CleanableDirectBuffer;

/** Netty's direct buffer that goes through NIO (where Netty may not use Unsafe), over a heap block. */
final class SpanheapDirectByteBuf extends UnpooledDirectByteBuf {

    SpanheapDirectByteBuf(SpanheapByteBufAllocator allocator, int initialCapacity, int maxCapacity) {
        super(allocator, initialCapacity, maxCapacity);
    }

    /** See {@link SpanheapUnsafeDirectByteBuf#allocateDirectBuffer}. */
    @Override
    protected CleanableDirectBuffer allocateDirectBuffer(int capacity) {
        return ((SpanheapByteBufAllocator) alloc()).allocateBlock(capacity);
    }
}
