package dev.spanheap.bench.peers;

import dev.spanheap.Spanheap;
import dev.spanheap.netty.SpanheapByteBufAllocator;
import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;

/** A Netty allocator (pooled, adaptive, or Spanheap's adapter), direct buffers, released explicitly. */
final class NettyPeer implements Peer {

    private final ByteBufAllocator allocator;
    private ByteBuf[] buffers;

    private NettyPeer(ByteBufAllocator allocator) {
        this.allocator = allocator;
    }

    static NettyPeer pooled() {
        return new NettyPeer(new PooledByteBufAllocator(true));
    }

    static NettyPeer adaptive() {
        return new NettyPeer(new AdaptiveByteBufAllocator(true, true));
    }

    /** Spanheap through its Netty adapter: allocator against allocator in Netty's own pattern. */
    static NettyPeer spanheap() {
        return new NettyPeer(new SpanheapByteBufAllocator(Spanheap.create()));
    }

    @Override
    public void open(int slots) {
        buffers = new ByteBuf[slots];
    }

    @Override
    public void allocate(int slot, long size) {
        buffers[slot] = allocator.directBuffer((int) size);
    }

    @Override
    public void write(int slot, long value) {
        buffers[slot].setLong(0, value);
    }

    @Override
    public void free(int slot) {
        buffers[slot].release();
        buffers[slot] = null;
    }

    @Override
    public void close() {
    }
}
