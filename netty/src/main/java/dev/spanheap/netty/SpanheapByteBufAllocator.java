package dev.spanheap.netty;

import dev.spanheap.Spanheap;
import dev.spanheap.internal.Heap;
import dev.spanheap.internal.HeapAccess;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.util.internal.PlatformDependent;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;

/**
 * A Netty {@link io.netty.buffer.ByteBufAllocator} whose direct buffers are blocks of a
 * {@link Spanheap}: allocating one is a heap allocation (nanoseconds, from the thread's cache), the
 * last {@code release()} frees the block from whichever thread releases it, and a change of
 * capacity moves the contents to a new block of the heap. Memory that buffers no longer use goes
 * back to the OS through the heap's scavenger, which Netty's pooled arenas do not do.
 *
 * <pre>{@code
 * ServerBootstrap bootstrap = new ServerBootstrap()
 *         .childOption(ChannelOption.ALLOCATOR, new SpanheapByteBufAllocator(Spanheap.global()));
 * }</pre>
 *
 * <p>Everything else is Netty's own: the buffers are Netty's unpooled direct buffers (its
 * unsafe-access variant where Netty uses that, the NIO one otherwise) over heap memory, so every
 * {@code ByteBuf} operation, reference-count error and NIO view behaves exactly as with
 * {@link io.netty.buffer.UnpooledByteBufAllocator}; heap and composite buffers come from
 * {@link AbstractByteBufAllocator}, and every buffer is wrapped for Netty's leak detector as
 * {@code PooledByteBufAllocator} wraps its own. {@link #metric()} reports the capacity of the
 * live buffers, as Netty's allocators do.
 */
public final class SpanheapByteBufAllocator extends AbstractByteBufAllocator implements ByteBufAllocatorMetricProvider {

    private final Spanheap heap;
    /** The heap's machinery, for buffers over its memory without a scope (see HeapBlock). */
    private final Heap internalHeap;
    private final boolean preferDirect;
    /** Whether direct buffers read and write through Unsafe (Netty's choice) or through NIO. */
    private final boolean unsafeAccess;
    private final LongAdder usedDirect = new LongAdder();
    private final LongAdder usedHeap = new LongAdder();
    private final ByteBufAllocatorMetric metric = new ByteBufAllocatorMetric() {
        @Override
        public long usedHeapMemory() {
            return usedHeap.sum();
        }

        @Override
        public long usedDirectMemory() {
            return usedDirect.sum();
        }

        @Override
        public String toString() {
            return "SpanheapByteBufAllocatorMetric(usedHeapMemory: " + usedHeapMemory()
                    + "; usedDirectMemory: " + usedDirectMemory() + ')';
        }
    };

    /** An allocator over {@code heap} that prefers direct buffers. */
    public SpanheapByteBufAllocator(Spanheap heap) {
        this(heap, true);
    }

    /**
     * An allocator over {@code heap}; {@code preferDirect} chooses what {@code buffer()} and
     * {@code ioBuffer()} return, as for Netty's allocators.
     */
    public SpanheapByteBufAllocator(Spanheap heap, boolean preferDirect) {
        this(heap, preferDirect, PlatformDependent.hasUnsafe());
    }

    /** {@code unsafeAccess} false forces the NIO buffers, as on a JVM where Netty may not use Unsafe; for tests. */
    SpanheapByteBufAllocator(Spanheap heap, boolean preferDirect, boolean unsafeAccess) {
        super(preferDirect);
        this.heap = Objects.requireNonNull(heap, "heap");
        this.internalHeap = HeapAccess.heapOf(heap);
        this.preferDirect = preferDirect;
        this.unsafeAccess = unsafeAccess;
    }

    /** The heap the direct buffers come from. */
    public Spanheap heap() {
        return heap;
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return toLeakAwareBuffer(new SpanheapHeapByteBuf(this, initialCapacity, maxCapacity));
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        // Wrapped for the leak detector as Netty's allocators wrap theirs (at its sampling rate).
        return toLeakAwareBuffer(unsafeAccess
                ? new SpanheapUnsafeDirectByteBuf(this, initialCapacity, maxCapacity)
                : new SpanheapDirectByteBuf(this, initialCapacity, maxCapacity));
    }

    /** True: the memory of released buffers is reused, by the heap. */
    @Override
    public boolean isDirectBufferPooled() {
        return true;
    }

    @Override
    public ByteBufAllocatorMetric metric() {
        return metric;
    }

    boolean unsafeAccess() {
        return unsafeAccess;
    }

    /** A block for a direct buffer of {@code capacity} bytes. */
    HeapBlock allocateBlock(int capacity) {
        HeapBlock block = new HeapBlock(this, internalHeap, heap.malloc(capacity), capacity);
        usedDirect.add(capacity);
        return block;
    }

    /**
     * Frees a direct buffer's block. A heap closed before or during the free has taken all of its
     * memory back already, so the release of a buffer that outlived its heap (a pipeline drained
     * after shutdown) succeeds quietly instead of throwing out of {@code ByteBuf.release()}.
     */
    void freeBlock(long address, int capacity) {
        try {
            heap.free(address);
        } catch (IllegalStateException closed) {
            if (!internalHeap.isClosed()) {
                throw closed;
            }
        } finally {
            usedDirect.add(-capacity);
        }
    }

    void heapArrayAllocated(int length) {
        usedHeap.add(length);
    }

    void heapArrayFreed(int length) {
        usedHeap.add(-length);
    }

    @Override
    public String toString() {
        return "SpanheapByteBufAllocator(preferDirect: " + preferDirect + ", " + metric + ')';
    }
}
