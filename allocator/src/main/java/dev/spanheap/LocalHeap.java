package dev.spanheap;

import dev.spanheap.internal.Heap;
import dev.spanheap.internal.HeapSegments;
import dev.spanheap.internal.ThreadCache;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;

/**
 * A handle on a {@link Spanheap} for one platform thread: the same operations as the heap's, minus
 * the thread-local lookup that finds the thread's cache on every call. For the hottest loops;
 * {@link Spanheap}'s own methods are a few nanoseconds slower and work on any thread.
 *
 * <p>Obtain it on the thread that will use it ({@link Spanheap#localHeap()}); calls from any other
 * thread throw {@link WrongThreadException}. Blocks it allocates may be freed anywhere, and it may
 * free blocks allocated anywhere.
 */
public final class LocalHeap implements SegmentAllocator {

    private final Heap heap;
    private final HeapSegments segments;
    private final ThreadCache cache;
    private final Thread owner;

    LocalHeap(Heap heap) {
        this.heap = heap;
        this.segments = heap.segments();
        this.cache = heap.currentThreadCache();
        this.owner = Thread.currentThread();
    }

    private void checkOwner() {
        if (Thread.currentThread() != owner) {
            throw new WrongThreadException("this LocalHeap belongs to " + owner);
        }
    }

    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        checkOwner();
        long address = heap.allocate(cache, byteSize, byteAlignment);
        return segments.segment(address, byteSize);
    }

    public long malloc(long byteSize) {
        checkOwner();
        return heap.allocate(cache, byteSize, 1);
    }

    public void free(long address) {
        checkOwner();
        heap.free(cache, address);
    }

    public void free(MemorySegment segment) {
        free(segments.segmentAddress(segment, "free"));
    }
}
