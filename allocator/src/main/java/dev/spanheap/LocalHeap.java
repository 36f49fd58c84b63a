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
    /**
     * The cache's fast-path array and the heap's base and page-map address, kept here so that each
     * call's chain of dependent loads starts one load nearer (see Heap#free(long[][], int, long, long, long)).
     */
    private final long[] slots;
    private final long base;
    private final long pageMapAddress;
    private final Thread owner;

    LocalHeap(Heap heap) {
        this.heap = heap;
        this.segments = heap.segments();
        this.cache = heap.currentThreadCache();
        this.slots = Heap.fastSlotsOf(cache);
        this.base = heap.base();
        this.pageMapAddress = heap.pageMapAddress();
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
        long address = heap.allocate(slots, byteSize, byteAlignment);
        return segments.segment(address, byteSize);
    }

    public long malloc(long byteSize) {
        checkOwner();
        return heap.allocate(slots, byteSize, 1);
    }

    public void free(long address) {
        checkOwner();
        heap.free(slots, cache, address, base, pageMapAddress);
    }

    public void free(MemorySegment segment) {
        free(segments.segmentAddress(segment, "free"));
    }
}
