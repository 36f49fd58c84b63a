package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The internal half of the heap's model check (the public half, with shrinking, is the project-wide
 * {@code HeapModelProperties}): after every step of a seeded random sequence the fast statistics
 * equal the slow recount of span records and caches, and once everything is freed and released the
 * committed pages are one coalesced free run.
 */
class RecountTest {

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void statisticsEqualTheRecountAndFreePagesCoalesce(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        // Seeds 3 and 6 sample one allocation per 64 KiB for the heap profile, so the recount meets
        // sampled blocks (spans of their own) of every size.
        Heap heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                256 << 10, 1 << 20, seed % 2 == 0).withProfileRate(seed % 3 == 0 ? 64 << 10 : 0));
        HeapStatistics statistics = new HeapStatistics(heap);
        List<long[]> live = new ArrayList<>();
        long liveBytes = 0;
        try {
            for (int step = 0; step < 400; step++) {
                if (live.isEmpty() || random.nextInt(5) < 3) {
                    // Sizes log-uniform up to 4 MiB: every class, cached large spans and page-heap blocks.
                    long size = random.nextLong(1L << random.nextInt(1, 23));
                    long address = heap.allocate(size, 1L << random.nextInt(0, 14));
                    long usable = heap.usableSize(address);
                    live.add(new long[] {address, usable});
                    liveBytes += usable;
                } else {
                    long[] block = live.remove(random.nextInt(live.size()));
                    heap.free(block[0]);
                    liveBytes -= block[1];
                }
                assertThat(statistics.recount()).isEqualTo(new HeapStatistics.Recount(live.size(), liveBytes));
                assertThat(statistics.snapshot().heapAlloc()).isEqualTo(liveBytes);
            }
            live.forEach(block -> heap.free(block[0]));
            heap.releaseMemory();
            heap.verify();
            assertThat(heap.describePages()).as("all committed memory is one free run").doesNotContain("|", "L", "S");
            assertThat(statistics.snapshot().heapInuse()).isZero();
        } finally {
            heap.close();
        }
    }
}
