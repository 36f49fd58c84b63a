package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SpanheapTest {

    private final Spanheap heap = Spanheap.create();

    @AfterEach
    void close() {
        heap.verify();
        heap.close();
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 8192, 16384, 65536, 1 << 20, 4 << 20})
    void everyPowerOfTwoAlignmentIsHonoured(long alignment) {
        for (long size : new long[] {1, 7, 16, 24, 100, 1000, 5000, 40_000, 300_000}) {
            MemorySegment block = heap.allocate(size, alignment);
            assertThat(block.address() % alignment).as("size %d alignment %d", size, alignment).isZero();
            assertThat(block.byteSize()).isEqualTo(size);
            assertThat(heap.usableSize(block.address())).isGreaterThanOrEqualTo(size);
            block.fill((byte) 1);
            heap.free(block);
        }
    }

    @Test
    void blocksOfSixteenBytesOrMoreAreSixteenByteAligned() {
        for (long size = 16; size <= 70_000; size += size / 3 + 1) {
            long address = heap.malloc(size);
            assertThat(address % 16).as("size %d", size).isZero();
            heap.free(address);
        }
        for (long size = 1; size < 16; size++) {
            long address = heap.malloc(size);
            assertThat(address % Long.highestOneBit(size)).isZero();
            heap.free(address);
        }
    }

    @Test
    void zeroSizeIsAZeroLengthSegmentWithItsOwnAddress() {
        MemorySegment first = heap.allocate(0);
        MemorySegment second = heap.allocate(0);
        assertThat(first.byteSize()).isZero();
        assertThat(first.address()).isNotZero().isNotEqualTo(second.address());
        heap.free(first);
        heap.free(second);
        assertThat(heap.malloc(0)).isNotZero();
    }

    @Test
    void allocateZeroedReadsAsZeroEvenOnReusedMemory() {
        for (long size : new long[] {8, 100, 4096, 40_000, 1 << 20}) {
            MemorySegment dirty = heap.allocate(size);
            dirty.fill((byte) 0x5A);
            heap.free(dirty);
            MemorySegment clean = heap.allocateZeroed(size);
            assertThat(clean.byteSize()).isEqualTo(size);
            for (long i = 0; i < size; i += 8) {
                assertThat(clean.get(ValueLayout.JAVA_BYTE, i)).isZero();
            }
            assertThat(clean.get(ValueLayout.JAVA_BYTE, size - 1)).isZero();
            heap.free(clean);
        }
    }

    @Test
    void segmentsWorkWithTheUsualFfmIdioms() {
        MemorySegment numbers = heap.allocateFrom(ValueLayout.JAVA_INT, 1, 2, 3, 4);
        assertThat(numbers.toArray(ValueLayout.JAVA_INT)).containsExactly(1, 2, 3, 4);
        MemorySegment text = heap.allocateFrom("spanheap");
        assertThat(text.getString(0)).isEqualTo("spanheap");
        heap.free(numbers);
        heap.free(text);
    }

    @Test
    void memStatsCountAllocationsAndFrees() {
        MemStats before = heap.memStats();
        MemorySegment small = heap.allocate(100);
        MemorySegment large = heap.allocate(100_000);
        MemStats during = heap.memStats();
        assertThat(during.mallocs() - before.mallocs()).isEqualTo(2);
        assertThat(during.heapObjects()).isEqualTo(2);
        assertThat(during.heapAlloc()).isEqualTo(112 + 13 * 8192);
        heap.free(small);
        heap.free(large);
        MemStats after = heap.memStats();
        assertThat(after.frees()).isEqualTo(2);
        assertThat(after.heapObjects()).isZero();
        assertThat(after.heapAlloc()).isZero();
        assertThat(after.totalAlloc()).isEqualTo(112 + 13 * 8192);
        assertThat(after.toString()).contains("heapAlloc=0.0MiB", "mallocs=2");
    }
}
