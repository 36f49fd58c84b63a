package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.spanheap.MemStats;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/**
 * The heap profile's estimates against the truth, Go's way: three call sites allocate 60%, 30% and
 * 10% of the bytes in blocks of different sizes, and the profile must put each within 10%
 * (relative) of its share, for allocated and for in-use space, with totals within 10% of the
 * statistics. The heap's clock is a test's: frozen, the sampling rate stays the heap's (a real clock
 * would lengthen it in these tight loops, see {@link SampleRate}); random, the rate wanders, and the
 * estimates must stay as good.
 */
class ProfileAccuracyTest {

    /**
     * The sites by their blocks' size: the profile drops the frames of this module's classes, and this
     * test's class is one of them, so its three sites differ only by block size.
     */
    private static final Map<Long, Double> SHARES = Map.of(16_384L, 0.6, 2_048L, 0.3, 256L, 0.1);

    private static Heap heap(long rate, LongSupplier clock) {
        return heap(rate, clock, HeapConfig.DEFAULT_VIRTUAL_THREAD_CACHES);
    }

    /** With {@code virtualThreadCaches} 0 virtual threads count in their stripes. */
    private static Heap heap(long rate, LongSupplier clock, int virtualThreadCaches) {
        return new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 8L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                HeapConfig.DEFAULT_THREAD_CACHE_BYTES, HeapConfig.DEFAULT_TOTAL_CACHE_BYTES, false,
                HeapConfig.Scavenging.manual(clock), rate, "accuracy").withVirtualThreadCaches(virtualThreadCaches));
    }

    private static long bigSite(Heap heap) {
        return heap.allocate(16_000, 1);
    }

    private static long midSite(Heap heap) {
        return heap.allocate(2_000, 1);
    }

    private static long smallSite(Heap heap) {
        return heap.allocate(250, 1);
    }

    /**
     * Allocates {@code totalBytes} (at the blocks' usable sizes) in the shares above, interleaved,
     * keeping every {@code keepOneIn}-th block of each site (0: none) and freeing the rest at once.
     */
    private static List<Long> allocateInShares(Heap heap, long totalBytes, int keepOneIn) {
        long[] usable = {16_384, 2_048, 256};
        long[] target = {(long) (totalBytes * 0.6), (long) (totalBytes * 0.3), (long) (totalBytes * 0.1)};
        long[] done = new long[3];
        long[] count = new long[3];
        List<Long> kept = new ArrayList<>();
        while (done[0] < target[0] || done[1] < target[1] || done[2] < target[2]) {
            for (int site = 0; site < 3; site++) {
                // Each site in turn while it is behind its share of the progress, so that they interleave.
                while ((double) done[site] / target[site] <= (double) done[0] / target[0] && done[site] < target[site]) {
                    long block = switch (site) {
                        case 0 -> bigSite(heap);
                        case 1 -> midSite(heap);
                        default -> smallSite(heap);
                    };
                    done[site] += usable[site];
                    if (keepOneIn > 0 && count[site]++ % keepOneIn == 0) {
                        kept.add(block);
                    } else {
                        heap.free(block);
                    }
                }
            }
        }
        return kept;
    }

    /** Totals by block size: {allocated bytes, in-use bytes, in-use objects}. */
    private static Map<Long, double[]> byLeaf(Heap heap) {
        Map<Long, double[]> totals = new HashMap<>();
        heap.profiler().sites().forEach((site, t) -> {
            double[] sum = totals.computeIfAbsent(site.blockSize(), k -> new double[3]);
            sum[0] += t.allocBytes;
            sum[1] += t.inuseBytes;
            sum[2] += t.inuseObjects;
        });
        return totals;
    }

    private static void assertShares(Map<Long, double[]> totals, int index, String what) {
        assertShares(totals, index, what, 0.1);
    }

    private static void assertShares(Map<Long, double[]> totals, int index, String what, double tolerance) {
        double all = totals.values().stream().mapToDouble(t -> t[index]).sum();
        SHARES.forEach((site, share) -> {
            double measured = totals.getOrDefault(site, new double[3])[index] / all;
            System.out.printf("%s share of the %d-byte site: %.4f (true %.2f)%n", what, site, measured, share);
            assertThat(measured).as("%s's share of %s", site, what).isCloseTo(share, within(tolerance * share));
        });
    }

    /**
     * The profile's allocated space against the truth: each site within {@code tolerance} (relative)
     * of its share, and the total within as much of the statistics' {@code totalAlloc}.
     */
    private static void assertAllocatedSpace(Heap heap, String what, double tolerance) {
        Map<Long, double[]> totals = byLeaf(heap);
        assertShares(totals, 0, what, tolerance);
        MemStats stats = new HeapStatistics(heap).snapshot();
        double allocated = totals.values().stream().mapToDouble(t -> t[0]).sum();
        System.out.printf("%s %.0f, totalAlloc %d%n", what, allocated, stats.totalAlloc());
        assertThat(allocated).isCloseTo(stats.totalAlloc(), within(tolerance * stats.totalAlloc()));
    }

    /** Whether the sampling rate lengthened: fewer samples than {@code rate} would have taken. */
    private static void assertRateAdapted(Heap heap, long rate) {
        long totalAlloc = new HeapStatistics(heap).snapshot().totalAlloc();
        int samples = heap.profiler().sites().values().stream().mapToInt(t -> t.samples).sum();
        assertThat(samples).as("the rate adapted: fewer samples than at the heap's rate")
                .isLessThan((int) (totalAlloc / rate * 0.8));
    }

    /**
     * A test clock for the adapting-rate tests: read in pairs, a sample's start and end, it advances
     * 1 ns within a sample and 1 ns (one time in four) or 10 000 ns between samples, so the rate
     * doubles or comes back down after each (SampleRate's rules). Not for concurrent readers.
     */
    private static LongSupplier adaptingClock(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        long[] now = {0};
        boolean[] start = {true};
        return () -> {
            now[0] += start[0] ? (random.nextInt(4) == 0 ? 1 : 10_000) : 1;
            start[0] = !start[0];
            return now[0];
        };
    }

    @Test
    void allocatedSpaceAtGosDefaultRate() {
        Heap heap = heap(HeapProfiler.DEFAULT_RATE, () -> 0);
        try {
            // 12 GiB allocated and freed: about 2400 samples at the 10% site, so 10% is ~5 standard errors.
            allocateInShares(heap, 12L << 30, 0);
            assertAllocatedSpace(heap, "alloc_space", 0.1);
        } finally {
            heap.close();
        }
    }

    @Test
    void inUseSpace() {
        // In-use estimates need samples among the live blocks: at one sample per 16 KiB, 400 MiB live
        // holds ~2500 at the 10% site, as 12.5 GiB would at Go's rate.
        Heap heap = heap(16 << 10, () -> 0);
        try {
            List<Long> kept = allocateInShares(heap, 400L << 20, 1);
            Map<Long, double[]> totals = byLeaf(heap);
            assertShares(totals, 1, "inuse_space");
            MemStats stats = new HeapStatistics(heap).snapshot();
            double inUse = totals.values().stream().mapToDouble(t -> t[1]).sum();
            double objects = totals.values().stream().mapToDouble(t -> t[2]).sum();
            System.out.printf("inuse_space %.0f, heapAlloc %d; inuse_objects %.0f, heapObjects %d%n", inUse,
                    stats.heapAlloc(), objects, stats.heapObjects());
            assertThat(inUse).isCloseTo(stats.heapAlloc(), within(0.1 * stats.heapAlloc()));
            assertThat(objects).isCloseTo(stats.heapObjects(), within(0.1 * stats.heapObjects()));
            kept.forEach(heap::free);
            assertThat(byLeaf(heap).values().stream().mapToDouble(t -> t[1]).sum()).isZero();
        } finally {
            heap.close();
        }
    }

    @Test
    void allocatedSpaceOnVirtualThreadsCountingInTheirStripes() throws InterruptedException {
        // Virtual threads count in their carrier's stripe's countdown (StripedCaches.allocateShared):
        // eight of them, side by side on the carriers, and the estimates must be as good as one
        // thread's. 3.2 GiB at one sample per 32 KiB: about 10 000 samples at the 10% site.
        Heap heap = heap(32 << 10, () -> 0, 0);
        try {
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                threads.add(Thread.ofVirtual().unstarted(() -> allocateInShares(heap, 400L << 20, 0)));
            }
            threads.forEach(Thread::start);
            for (Thread thread : threads) {
                thread.join();
            }
            assertAllocatedSpace(heap, "alloc_space (virtual threads)", 0.1);
        } finally {
            heap.close();
        }
    }

    @Test
    void virtualThreadsEstimatesStayUnbiasedWhileTheSharedRateAdapts() throws InterruptedException {
        // As below, on four virtual threads that take turns, 16 MiB each (a fair lock hands the turn
        // on), which the carriers' stripes serve: the samples of each stripe move the rate they all
        // share, so a stripe's countdown may end at another rate than it was drawn at
        // (StripeSamplingTest pins which one its sample is weighed with; at this tolerance either
        // would pass). Taking turns keeps the test clock's start and end reads in pairs.
        Heap heap = heap(64 << 10, adaptingClock(13), 0);
        java.util.concurrent.locks.ReentrantLock turn = new java.util.concurrent.locks.ReentrantLock(true);
        try {
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                threads.add(Thread.ofVirtual().unstarted(() -> {
                    for (int chunk = 0; chunk < 100; chunk++) {
                        turn.lock();
                        try {
                            allocateInShares(heap, 16L << 20, 0);
                        } finally {
                            turn.unlock();
                        }
                    }
                }));
            }
            threads.forEach(Thread::start);
            for (Thread thread : threads) {
                thread.join();
            }
            assertAllocatedSpace(heap, "alloc_space (virtual threads, adapting)", 0.15);
            assertRateAdapted(heap, 64 << 10);
        } finally {
            heap.close();
        }
    }

    @Test
    void estimatesStayUnbiasedWhileTheRateAdapts() {
        // Each sample reads the clock twice; a sample costs 1 ns and the gap before it is 1 ns (one time
        // in four) or 10 000 ns, so after each sample the rate doubles or halves (SampleRate's rules):
        // it wanders between the heap's rate and a few doublings above it. Fewer samples, heavier
        // weights (a sample taken at 16 times the rate stands for 16 times as much), so the check is
        // looser: 15%. A weight taken from the wrong rate is off by factors of two, which it catches.
        Heap heap = heap(64 << 10, adaptingClock(7));
        try {
            allocateInShares(heap, 6400L << 20, 0);
            assertAllocatedSpace(heap, "alloc_space (adapting)", 0.15);
            assertRateAdapted(heap, 64 << 10);
        } finally {
            heap.close();
        }
    }
}
