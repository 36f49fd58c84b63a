package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.MemStats;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * MemStats' metadata figures ({@code spanMetadata}, Go's MSpanInuse; {@code cacheMetadata}, its
 * MCacheInuse) and {@code sys}, which adds them to the heap's pages: what each one counts, and
 * that they grow with what they describe. A figure that left out a table would understate what
 * the heap holds by up to 0.9% of its pages (the flag table), which no other figure shows.
 */
class MetadataStatisticsTest {

    private static final long MIB = 1 << 20;

    private final Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));

    @AfterEach
    void close() {
        heap.close();
    }

    /** The span records ever used, a page-map entry per committed page and a flag per 128 B. */
    private long expectedSpanMetadata(MemStats stats) {
        long pages = stats.heapSys() / Pages.SIZE;
        return heap.pageHeap().spans.highWater() * SpanTable.RECORD_BYTES + pages * Long.BYTES
                + stats.heapSys() / FreeMarks.GRANULE;
    }

    @Test
    void spanMetadataCountsTheRecordsThePageMapAndTheFlagsOfTheCommittedPages() {
        long[] blocks = new long[64];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = heap.allocate(MIB, 8);
        }
        MemStats stats = new HeapStatistics(heap).snapshot();
        assertThat(stats.heapSys()).isGreaterThanOrEqualTo(64 * MIB);
        assertThat(stats.spanMetadata()).isEqualTo(expectedSpanMetadata(stats))
                .isGreaterThanOrEqualTo(64 * MIB / FreeMarks.GRANULE + 64 * MIB / Pages.SIZE * Long.BYTES
                        + 64 * SpanTable.RECORD_BYTES);
        assertThat(stats.sys()).isEqualTo(stats.heapSys() + stats.spanMetadata() + stats.cacheMetadata());
        for (long block : blocks) {
            heap.free(block);
        }
        MemStats after = new HeapStatistics(heap).snapshot();
        assertThat(after.heapSys()).as("committed pages stay committed").isEqualTo(stats.heapSys());
        assertThat(after.spanMetadata()).isEqualTo(expectedSpanMetadata(after));
    }

    @Test
    void cacheMetadataIsAFootprintPerCacheAndGrowsWithEachThreadThatAllocates() throws Exception {
        heap.free(heap.allocate(64, 8));
        MemStats one = new HeapStatistics(heap).snapshot();
        assertThat(one.cacheMetadata()).isPositive();
        assertThat(one.cacheMetadata() % ThreadCache.footprintBytes()).isZero();
        CountDownLatch allocated = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        Thread other = Thread.ofPlatform().start(() -> {
            heap.free(heap.allocate(64, 8));
            allocated.countDown();
            try {
                done.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        try {
            allocated.await();
            MemStats two = new HeapStatistics(heap).snapshot();
            assertThat(two.cacheMetadata() - one.cacheMetadata()).isEqualTo(ThreadCache.footprintBytes());
            assertThat(two.sys()).isEqualTo(two.heapSys() + two.spanMetadata() + two.cacheMetadata());
        } finally {
            done.countDown();
            other.join();
        }
    }
}
