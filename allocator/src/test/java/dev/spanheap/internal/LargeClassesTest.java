package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The size classes past 32 KiB: blocks up to 1 MiB are objects of a class, served by the thread cache. */
class LargeClassesTest {

    // No sampling: a sampled block would get a span of its own and break the reuse these tests pin.
    private final Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));

    @AfterEach
    void close() {
        heap.close();
    }

    @ParameterizedTest
    @CsvSource({"32769, 40960", "65536, 65536", "65537, 73728", "131073, 147456", "262144, 262144",
        "262145, 294912", "1000000, 1048576", "1048576, 1048576", "1048577, 1056768"})
    void usableSizeIsTheClassSizeUpTo1MiBAndWholePagesAbove(long size, long usable) {
        long address = heap.allocate(size, 1);
        assertThat(heap.usableSize(address)).isEqualTo(usable);
        heap.free(address);
        heap.verify();
    }

    /** A span marked as kept by a cache that no cache holds would never be handed out or freed again. */
    @Test
    void verifyFindsASpanMarkedCachedThatNoCacheKeeps() {
        long block = heap.allocate(2 << 20, 1);
        int span = heap.pageHeap().pageMap.spanAt((int) ((block - heap.base()) >>> Pages.SHIFT));
        assertThat(heap.pageHeap().spans.state(span)).isEqualTo(SpanTable.LARGE);
        heap.pageHeap().spans.setState(span, SpanTable.CACHED);
        assertThatThrownBy(heap::verify).isInstanceOf(IllegalStateException.class)
                .hasMessage("heap invariant broken: 1 spans are marked cached, but the caches keep 0");
        heap.pageHeap().spans.setState(span, SpanTable.LARGE);
        heap.free(block);
        heap.verify();
    }

    @Test
    void aFreedClassBlockComesBackFromTheThreadCache() {
        long first = heap.allocate(100 << 10, 1);
        heap.free(first);
        assertThat(heap.allocate(100 << 10, 1)).isEqualTo(first);
        // The same class (106496 bytes) serves a slightly different request from the same cache.
        heap.free(first);
        assertThat(heap.allocate(104 << 10, 1)).isEqualTo(first);
        heap.free(first);
        heap.verify();
    }

    @Test
    void theLargestClassIsCachedToo() {
        long first = heap.allocate(1 << 20, 1);
        heap.free(first);
        assertThat(heap.allocate(1_000_000, 1)).isEqualTo(first);
        heap.free(first);
        heap.verify();
    }

    @Test
    void aClassSpanHoldsOneObjectAndStartsOnAPage() {
        long address = heap.allocate(200 << 10, 1);
        assertThat(address % Pages.SIZE).isZero();
        assertThat(heap.usableSize(address)).isEqualTo(212992);
        heap.free(address);
    }

    @Test
    void doubleFreeOfAClassBlockIsRefused() {
        long address = heap.allocate(200 << 10, 1);
        heap.free(address);
        assertThatThrownBy(() -> heap.free(address))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage(String.format("double free of 0x%x: the block is already free", address));
        heap.verify();
    }

    @Test
    void anInteriorAddressOfAClassBlockIsRefused() {
        long address = heap.allocate(200 << 10, 1);
        assertThatThrownBy(() -> heap.free(address + Pages.SIZE)).isInstanceOf(IllegalArgumentException.class);
        heap.free(address);
        heap.verify();
    }
}
