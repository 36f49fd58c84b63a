package dev.spanheap.netty;

import io.netty.util.internal.CleanableDirectBuffer;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The memory of one direct buffer: a block of the allocator's heap, seen by Netty as a direct
 * {@link ByteBuffer} over it. Netty calls {@link #clean()} once, when the buffer is deallocated or
 * its capacity moves to a new block, and that frees the block.
 */
final class HeapBlock implements CleanableDirectBuffer {

    private final SpanheapByteBufAllocator allocator;
    private final MemorySegment segment;
    private final ByteBuffer buffer;

    HeapBlock(SpanheapByteBufAllocator allocator, MemorySegment segment) {
        this.allocator = allocator;
        this.segment = segment;
        this.buffer = segment.asByteBuffer();
    }

    @Override
    public ByteBuffer buffer() {
        return buffer;
    }

    @Override
    public void clean() {
        allocator.heap().free(segment);
        allocator.freed(this, (int) segment.byteSize());
    }

    @Override
    public boolean hasMemoryAddress() {
        return true;
    }

    @Override
    public long memoryAddress() {
        return segment.address();
    }
}
