package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A stale free into pages that a sampled block took over: the block has the pages to itself but is
 * its class's size, so an old block's address past that size is no block at all, and the refusal
 * says so with the size {@code usableSize} reports, not the span's. At the default rate this
 * happens when the first allocation after the pages' return is the sample (a flaky CI run of
 * StaleFreeTest, 35 times in 20 000); here the countdown is set to make it so.
 */
class SampledStaleFreeTest {

    private static Heap heap() {
        return new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                HeapConfig.DEFAULT_THREAD_CACHE_BYTES, HeapConfig.DEFAULT_TOTAL_CACHE_BYTES, false,
                HeapConfig.Scavenging.manual(() -> 0), HeapProfiler.DEFAULT_RATE, "sampled-stale"));
    }

    @Test
    void aStaleFreePastASampledBlocksEndIsRefusedAndTheHeapStaysConsistent() {
        Heap heap = heap();
        try {
            ThreadCache cache = heap.currentThreadCache();
            cache.setBytesUntilSample(Long.MAX_VALUE / 2);
            List<Long> old = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                old.add(heap.allocate(1000, 1));
            }
            old.forEach(heap::free);
            heap.flushThreadCache();
            heap.releaseMemory();
            assertThat(heap.profiler().liveSamples()).isZero();

            cache.setBytesUntilSample(0);
            long sampled = heap.allocate(1000, 1);
            assertThat(heap.profiler().liveSamples()).as("the allocation is the sample").isEqualTo(1);
            assertThat(heap.usableSize(sampled)).isEqualTo(1024);
            List<Long> stale = old.stream().filter(a -> a > sampled && a < sampled + Pages.SIZE).toList();
            assertThat(stale).as("old blocks lie in the sampled block's page, past its 1024 bytes").isNotEmpty()
                    .allSatisfy(a -> assertThat(a - sampled).isGreaterThanOrEqualTo(1024));

            for (long address : stale) {
                assertThatThrownBy(() -> heap.free(address)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("0x%x is not the start of a block of this heap: it lies past the end of the"
                                + " 1024-byte block at 0x%x", address, sampled);
                assertThatThrownBy(() -> heap.usableSize(address)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("past the end of the 1024-byte block");
            }
            assertThatThrownBy(() -> heap.free(sampled + 8)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("0x%x points inside a 1024-byte block, not at its start", sampled + 8);
            heap.verify();

            heap.free(sampled);
            heap.flushThreadCache();
            heap.releaseMemory();
            heap.verify();
            assertThat(heap.profiler().liveSamples()).isZero();
            assertThat(new HeapStatistics(heap).snapshot().heapObjects()).isZero();
        } finally {
            heap.close();
        }
    }
}
