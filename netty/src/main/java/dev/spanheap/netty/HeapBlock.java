package dev.spanheap.netty;

import io.netty.util.internal.CleanableDirectBuffer;
import dev.spanheap.internal.Heap;
import java.nio.ByteBuffer;

/**
 * The memory of one direct buffer: a block of the allocator's heap, seen by Netty as a direct
 * {@link ByteBuffer} over it. Netty calls {@link #clean()} once, when the buffer is deallocated or
 * its capacity moves to a new block, and that frees the block.
 */
final class HeapBlock implements CleanableDirectBuffer {

    private final SpanheapByteBufAllocator allocator;
    /** The block's address and the buffer's capacity; the segment itself is not kept (one object fewer per buffer). */
    private final long address;
    private final int capacity;
    private final ByteBuffer buffer;

    /**
     * The buffer has no scope (HeapSegments.unscopedByteBuffer): Netty's reference count guards its
     * lifetime, and NIO reads and writes through it pay no scope acquire per call. It keeps the
     * heap's mapping alive, so even a buffer used after release cannot fault.
     */
    HeapBlock(SpanheapByteBufAllocator allocator, Heap heap, long address, int capacity) {
        this.allocator = allocator;
        this.address = address;
        this.capacity = capacity;
        this.buffer = heap.segments().unscopedByteBuffer(address, capacity);
    }

    @Override
    public ByteBuffer buffer() {
        return buffer;
    }

    @Override
    public void clean() {
        allocator.freeBlock(address, capacity);
    }

    /**
     * As Netty's own direct memory reports it: an address only where Netty reads and writes through
     * Unsafe. Netty code that sees an address goes to Unsafe with it, which fails where Unsafe is off.
     */
    @Override
    public boolean hasMemoryAddress() {
        return allocator.unsafeAccess();
    }

    @Override
    public long memoryAddress() {
        return address;
    }
}
