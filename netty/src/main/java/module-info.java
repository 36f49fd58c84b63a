/**
 * Spanheap for Netty: {@link dev.spanheap.netty.SpanheapByteBufAllocator}, a
 * {@code ByteBufAllocator} whose direct buffers are blocks of a {@link dev.spanheap.Spanheap}.
 */
module dev.spanheap.netty {
    requires transitive dev.spanheap;
    requires transitive io.netty.buffer;
    requires io.netty.common;

    exports dev.spanheap.netty;
}
