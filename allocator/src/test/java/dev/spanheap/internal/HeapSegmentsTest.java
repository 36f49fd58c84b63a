package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The segment a block is handed out as when the heap is not checked: its block's address re-bound
 * to the arena that closes with the heap ({@link HeapSegments#segment}). It must span exactly the
 * block, be writable, share one scope with every other block's segment, stop working at close, and,
 * made after the close (an allocation that raced it), be refused as the close.
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

    @Test
    void everyBlocksSegmentSharesTheHeapsScopeWhichCloseEnds() {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        long first = heap.allocate(16, 16);
        long second = heap.allocate(64 << 10, 16);
        MemorySegment a = heap.segments().segment(first, 16);
        MemorySegment b = heap.segments().segment(second, 64 << 10);
        assertThat(a.scope()).isEqualTo(b.scope());
        assertThat(a.scope().isAlive()).isTrue();
        heap.close();
        assertThat(b.scope().isAlive()).isFalse();
        assertThatThrownBy(() -> a.get(ValueLayout.JAVA_LONG, 0)).isInstanceOf(IllegalStateException.class);
    }

    /** A segment made once the heap's arena has closed is refused with the heap's own message. */
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
