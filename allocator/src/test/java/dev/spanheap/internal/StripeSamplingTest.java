package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * Virtual threads count towards the profile's samples in their stripe's countdown, and a sample is
 * weighed with the rate that countdown was drawn at, not the shared rate of the moment (which other
 * stripes' samples move): {@link StripedCaches#countTowardsSample} and {@code allocateShared} report it.
 * The test's thread calls them directly; it counts in the stripe of its own native thread, as a
 * virtual thread would in its carrier's.
 */
class StripeSamplingTest {

    private static final long RATE = 1 << 20;
    /** More bytes than any countdown holds: the request that carries them is always the sample. */
    private static final long EVERYTHING = 1L << 60;

    private static Heap heap(long rate) {
        return new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                HeapConfig.DEFAULT_THREAD_CACHE_BYTES, HeapConfig.DEFAULT_TOTAL_CACHE_BYTES, false,
                HeapConfig.Scavenging.manual(() -> 0), rate, "stripes").withVirtualThreadCaches(0));
    }

    @Test
    void aSampleReportsTheRateItsCountdownWasDrawnAt() {
        Heap heap = heap(RATE);
        try {
            ThreadCaches caches = heap.caches();
            assertThat(caches.stripes().countTowardsSample(EVERYTHING)).as("the first countdown, at the heap's rate")
                    .isEqualTo(RATE);
            // Two samples 1 ns apart that cost 1 ns each: far over 1% of the time, so the rate doubles.
            heap.profiler().afterSharedSample(0, 1);
            heap.profiler().afterSharedSample(2, 3);
            assertThat(heap.profiler().sharedRateNow()).isEqualTo(2 * RATE);
            assertThat(caches.stripes().countTowardsSample(EVERYTHING))
                    .as("the countdown restarted before the rate moved").isEqualTo(RATE);
            assertThat(caches.stripes().countTowardsSample(EVERYTHING)).as("restarted at the new rate")
                    .isEqualTo(2 * RATE);
            assertThat(caches.stripes().allocateShared(5, EVERYTHING)).as("a small request that is the sample")
                    .isEqualTo(-2 * RATE);
        } finally {
            heap.close();
        }
    }

    @Test
    void withProfilingOffNothingIsCountedOrSampled() {
        Heap heap = heap(0);
        try {
            assertThat(heap.caches().stripes().countTowardsSample(EVERYTHING)).isZero();
        } finally {
            heap.close();
        }
    }
}
