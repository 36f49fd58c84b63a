package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class BuilderTest {

    @Test
    void rejectsNonsense() {
        assertThatThrownBy(() -> Spanheap.builder().maxHeapSize(100))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one page");
        assertThatThrownBy(() -> Spanheap.builder().softLimit(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("softLimit");
        assertThatThrownBy(() -> Spanheap.builder().retainPercent(90))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least 100");
        assertThatThrownBy(() -> Spanheap.builder().threadCacheSize(-1))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void maxHeapSizeIsTheHardLimit() {
        try (Spanheap heap = Spanheap.builder().maxHeapSize(32L << 20).scavenger(false).build()) {
            MemorySegment most = heap.allocate(28L << 20);
            assertThatThrownBy(() -> heap.allocate(8L << 20)).isInstanceOf(OutOfMemoryError.class)
                    .hasMessageContaining("limit is 33554432 bytes");
            heap.free(most);
            heap.free(heap.allocate(8L << 20));
        }
    }

    @Test
    void checkedModeCatchesADoubleFreeThatTheCookieMisses() {
        try (Spanheap heap = Spanheap.builder().checked(true).build()) {
            long block = heap.malloc(64);
            heap.free(block);
            // A write after free wipes the cookie that unchecked mode looks for; the bitmap remains.
            MemorySegment.ofAddress(block).reinterpret(8).set(java.lang.foreign.ValueLayout.JAVA_LONG, 0, 12345L);
            assertThatThrownBy(() -> heap.free(block)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("double free");
            long again = heap.malloc(64);
            heap.free(again);
            assertThat(heap.memStats().heapObjects()).isZero();
            heap.verify();
        }
    }

    @Test
    void softLimitKeepsRetainedMemoryDown() {
        try (Spanheap heap = Spanheap.builder().scavenger(false).softLimit(64L << 20).build()) {
            for (int round = 0; round < 10; round++) {
                // Each round frees its block and asks for a larger one, so the heap must grow.
                heap.free(heap.allocate((20L + round * 4) << 20));
            }
            MemStats stats = heap.memStats();
            assertThat(stats.heapSys() - stats.heapReleased()).isLessThanOrEqualTo(64L << 20);
        }
    }
}
