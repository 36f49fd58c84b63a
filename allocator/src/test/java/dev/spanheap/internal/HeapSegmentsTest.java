package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The segment a block is handed out as when the heap is not checked: its block's address re-bound
 * to the calling thread's stripe's arena, which closes with the heap ({@link HeapSegments#segment},
 * {@link SegmentArenas}). It must span exactly the block, be writable, share its scope with the
 * thread's other segments but not with every thread's, stop working at close, and, made after the
 * close (an allocation that raced it), be refused as the close.
 */
class HeapSegmentsTest {

    @Test
    void aBlocksSegmentSpansItExactlyAndIsWritable() {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        try {
            long address = heap.allocate(100, 16);
            MemorySegment segment = heap.segments().segment(address, 100);
            assertThat(segment.address()).isEqualTo(address);
            assertThat(segment.byteSize()).isEqualTo(100);
            assertThat(segment.isNative()).isTrue();
            assertThat(segment.isReadOnly()).isFalse();
            segment.set(ValueLayout.JAVA_BYTE, 99, (byte) 7);
            assertThat(RawMemory.ALL.get(ValueLayout.JAVA_BYTE, address + 99)).isEqualTo((byte) 7);
            assertThatThrownBy(() -> segment.get(ValueLayout.JAVA_BYTE, 100))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            heap.free(address);
        } finally {
            heap.close();
        }
    }

    /**
     * One thread's segments share a scope; a thread of another stripe gets a scope of its own, so
     * that the JDK's acquire of a scope around a native call is not one counter for every thread.
     * Close ends every scope.
     */
    @Test
    void eachStripeOfThreadsHasAScopeAndCloseEndsThemAll() throws Exception {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        MemorySegment a = heap.segments().segment(heap.allocate(16, 16), 16);
        MemorySegment b = heap.segments().segment(heap.allocate(64 << 10, 16), 64 << 10);
        assertThat(a.scope()).isEqualTo(b.scope());
        MemorySegment[] others = new MemorySegment[SegmentArenas.STRIPES];
        long stripe = Thread.currentThread().threadId() & (SegmentArenas.STRIPES - 1);
        int otherStripe = -1;
        for (int i = 0; i < others.length; i++) {
            int index = i;
            Thread thread = Thread.ofPlatform()
                    .start(() -> others[index] = heap.segments().segment(heap.allocate(32, 16), 32));
            thread.join();
            if ((thread.threadId() & (SegmentArenas.STRIPES - 1)) != stripe) {
                otherStripe = i;
            }
        }
        assertThat(otherStripe).as("some thread of another stripe").isNotNegative();
        assertThat(others[otherStripe].scope()).isNotEqualTo(a.scope());
        assertThat(heap.segments().segmentArenas().made()).isGreaterThan(1);
        assertThat(a.scope().isAlive()).isTrue();
        heap.close();
        assertThat(b.scope().isAlive()).isFalse();
        assertThat(others).allSatisfy(segment -> assertThat(segment.scope().isAlive()).isFalse());
        assertThatThrownBy(() -> a.get(ValueLayout.JAVA_LONG, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> others[0].get(ValueLayout.JAVA_LONG, 0)).isInstanceOf(IllegalStateException.class);
    }

    /** A segment made once the heap's arenas have closed is refused with the heap's own message. */
    @Test
    void aSegmentMadeAfterCloseIsRefusedAsTheClose() {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        long address = heap.allocate(16, 16);
        HeapSegments segments = heap.segments();
        heap.close();
        assertThatThrownBy(() -> segments.segment(address, 16)).isInstanceOf(IllegalStateException.class)
                .hasMessage("Spanheap is closed");
    }
}
