package dev.spanheap.internal;

import dev.spanheap.TestThreads;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.MemStats;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The scavenger's policy, stepped with a fake clock: no test here waits for time to pass. */
class ScavengerTest {

    static final long MIB = 1 << 20;
    static final long SECOND = 1_000_000_000L;

    static final int RETAIN = HeapConfig.Scavenging.DEFAULT_RETAIN_PERCENT;

    private final AtomicLong now = new AtomicLong(1_000 * SECOND);

    /** Every heap a test made, closed after it. */
    private final List<Heap> heaps = new ArrayList<>();

    @AfterEach
    void closeHeaps() {
        heaps.forEach(Heap::close);
    }

    /**
     * A heap whose threads cache nothing: every freed block goes straight back to the central lists
     * and the page heap, where the scavenger can reach it (it never touches a live thread's cache).
     * Closed after the test.
     */
    private Heap heap(HeapConfig.Scavenging scavenging) {
        Heap heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 4L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                0, 4 << 20, false, scavenging));
        heaps.add(heap);
        return heap;
    }

    /**
     * Manual cycles on the test's clock without the ceiling: the tests of the window alone, whose
     * drops in use would otherwise pass the ceiling (see the ceiling's own tests).
     */
    private HeapConfig.Scavenging windowOnly() {
        return HeapConfig.Scavenging.manual(now::get).withMaxRetainPercent(Integer.MAX_VALUE);
    }

    private static List<Long> allocateTouched(Heap heap, int blocks, long size) {
        List<Long> addresses = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            long address = heap.allocate(size, 1);
            heap.segments().segment(address, size).fill((byte) 1);
            addresses.add(address);
        }
        return addresses;
    }

    @Test
    void keepsFreePagesWithinTheWindowAndReleasesThemAfterIt() {
        Heap heap = heap(windowOnly());
        HeapStatistics statistics = new HeapStatistics(heap);
        List<Long> blocks = allocateTouched(heap, 64, MIB);
        assertThat(heap.scavenger().cycle()).isZero();
        blocks.forEach(heap::free);
        now.addAndGet(SECOND / 10);
        // 64 MiB was in use a tenth of a second ago: more than that peak is kept.
        assertThat(heap.scavenger().cycle()).isZero();
        assertThat(statistics.snapshot().heapReleased()).isLessThan(MIB);

        now.addAndGet(2 * SECOND);
        long released = 0;
        for (long step; (step = heap.scavenger().cycle()) > 0; ) {
            assertThat(step).isLessThanOrEqualTo(Scavenger.MAX_RELEASE_PER_CYCLE);
            released += step;
        }
        MemStats stats = statistics.snapshot();
        assertThat(released).isGreaterThanOrEqualTo(64 * MIB);
        assertThat(stats.heapReleased()).isEqualTo(stats.heapIdle());
        heap.verify();
    }

    /**
     * A peak counts for one window (a second) from the start of the quarter-window bucket it fell
     * in: noted half a bucket in, it still holds a nanosecond before that bucket's window ends, and
     * is gone at its end, half a bucket before a window from the peak itself.
     */
    @Test
    void aPeakLastsAWindowFromTheStartOfItsBucket() {
        Heap heap = heap(windowOnly());
        long bucketStart = 1_000 * SECOND;
        long bucket = SECOND / 4;
        now.set(bucketStart + bucket / 2);
        List<Long> blocks = allocateTouched(heap, 64, MIB);
        assertThat(heap.scavenger().cycle()).isZero();
        blocks.forEach(heap::free);

        // A cycle in a later bucket notes its own, lower, peak there and keeps the earlier one.
        now.set(bucketStart + SECOND / 2);
        assertThat(heap.scavenger().cycle()).isZero();
        now.set(bucketStart + SECOND - 1);
        assertThat(heap.scavenger().cycle()).as("the peak's bucket is still in the window").isZero();
        now.set(bucketStart + SECOND);
        assertThat(heap.scavenger().cycle()).as("the peak's bucket has left it").isPositive();
        heap.verify();
    }

    /**
     * What a growth releases first, against the last cycle's goal (no ceiling here): what takes
     * retained memory past the goal, at most the growth itself.
     */
    @Test
    void aGrowthReleasesWhatTakesRetainedMemoryPastTheGoalAtMostItsOwnSize() {
        Heap heap = heap(windowOnly());
        List<Long> blocks = allocateTouched(heap, 40, MIB);
        Scavenger scavenger = heap.scavenger();
        scavenger.cycle();
        long goal = scavenger.goal(now.get());
        assertThat(goal).isGreaterThan(40 * MIB);
        // In use 1 MiB: far under the peak, so the last cycle's goal stands.
        assertThat(scavenger.beforeGrowth(goal - MIB, 4 * MIB, MIB)).as("3 MiB past the goal").isEqualTo(3 * MIB);
        assertThat(scavenger.beforeGrowth(goal + 10 * MIB, 4 * MIB, MIB)).as("at most the growth").isEqualTo(4 * MIB);
        assertThat(scavenger.beforeGrowth(goal - 4 * MIB, 4 * MIB, MIB)).as("up to the goal").isZero();
        blocks.forEach(heap::free);
    }

    /**
     * Under the goal, a growth or a large free still releases what is past the ceiling: 110% of
     * what is in use, or 8 MiB over it if that is more.
     */
    @Test
    void aGrowthOrALargeFreeReleasesWhatIsPastTheCeilingUnderTheGoal() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get));
        List<Long> blocks = allocateTouched(heap, 40, MIB);
        Scavenger scavenger = heap.scavenger();
        scavenger.cycle();
        assertThat(scavenger.goal(now.get())).isGreaterThan(40 * MIB);
        // 1 MiB in use and 4 MiB of growth: a ceiling of 13 MiB, which 10 + 4 MiB passes by 1.
        assertThat(scavenger.beforeGrowth(10 * MIB, 4 * MIB, MIB)).isEqualTo(MIB);
        // Past the goal too (by 2.8 MiB or so) and past the ceiling by more: the ceiling's excess, at most the growth.
        assertThat(scavenger.beforeGrowth(40 * MIB, 4 * MIB, MIB)).isEqualTo(4 * MIB);
        // 20 MiB in use: a ceiling of 28 MiB, which 45 MiB retained passes by 17 (the goal by less).
        now.addAndGet(2 * SECOND);
        assertThat(scavenger.afterLargeFree(45 * MIB, 20 * MIB)).isEqualTo(17 * MIB);
        blocks.forEach(heap::free);
    }

    @Test
    void memoryIdleInCentralListsDoesNotRaiseTheGoal() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get));
        HeapStatistics statistics = new HeapStatistics(heap);
        // 5 MiB of 64 KiB blocks, one per span; then the scavenger brings retained memory down
        // to the retained share of them.
        List<Long> blocks = allocateTouched(heap, 80, 64 << 10);
        releaseAfterTheWindow(heap);
        // Freed with no thread cache, 512 KiB of them stays in the central list, in its transfer
        // stack and as kept empty spans, which the page heap counts as in use.
        for (int i = 0; i < 16; i++) {
            heap.free(blocks.removeLast());
        }
        assertThat(heap.idleCentralBytes()).isEqualTo(MIB / 2);
        releaseAfterTheWindow(heap);
        // Counted in the peak, the idle half megabyte would have kept the goal at 4.5 MiB and
        // more, which retained memory already met, and stayed resident.
        MemStats stats = statistics.snapshot();
        assertThat(heap.idleCentralBytes()).isZero();
        assertThat(stats.heapSys() - stats.heapReleased()).isLessThanOrEqualTo(4 * MIB / 100 * RETAIN);
        blocks.forEach(heap::free);
        heap.verify();
    }

    /** A cycle that finds retained memory within the goal touches nothing, the central lists' idle memory included. */
    @Test
    void aCycleWithinTheGoalLeavesTheCentralListsAlone() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get));
        List<Long> blocks = allocateTouched(heap, 80, 64 << 10);
        assertThat(heap.scavenger().cycle()).isZero();
        for (int i = 0; i < 16; i++) {
            heap.free(blocks.removeLast());
        }
        assertThat(heap.idleCentralBytes()).isEqualTo(MIB / 2);
        now.addAndGet(SECOND / 10);
        assertThat(heap.scavenger().cycle()).isZero();
        assertThat(heap.idleCentralBytes()).as("kept for the next refills").isEqualTo(MIB / 2);
        blocks.forEach(heap::free);
        heap.verify();
    }

    /** Steps the clock past the window, then runs cycles until one releases nothing. */
    private void releaseAfterTheWindow(Heap heap) {
        now.addAndGet(2 * SECOND);
        while (heap.scavenger().cycle() > 0) {
            now.addAndGet(1_000_000);
        }
    }

    @Test
    void retainsTheDefaultShareAboveTheRecentPeak() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get));
        HeapStatistics statistics = new HeapStatistics(heap);
        List<Long> kept = allocateTouched(heap, 40, MIB);
        List<Long> dropped = allocateTouched(heap, 60, MIB);
        dropped.forEach(heap::free);
        now.addAndGet(2 * SECOND);
        while (heap.scavenger().cycle() > 0) {
            now.addAndGet(SECOND / 100);
        }
        MemStats stats = statistics.snapshot();
        long retained = stats.heapSys() - stats.heapReleased();
        assertThat(retained).isLessThanOrEqualTo(stats.heapInuse() * RETAIN / 100 + Pages.SIZE);
        // Down to the goal, not past it: the share above the peak stays.
        assertThat(retained).isGreaterThanOrEqualTo(stats.heapInuse() / 100 * RETAIN - Pages.SIZE);
        kept.forEach(heap::free);
    }

    @Test
    void softLimitReleasesFreePagesBeforeTheHeapGrows() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get).withSoftLimit(48 * MIB));
        HeapStatistics statistics = new HeapStatistics(heap);
        List<Long> dropped = allocateTouched(heap, 1, 40 * MIB);
        // A block past the 40 MiB, so that their free run does not reach the frontier (a growth
        // would extend that run instead of taking 44 MiB).
        long pin = heap.allocate(2 * MIB, 1);
        dropped.forEach(heap::free);
        assertThat(statistics.snapshot().heapReleased()).isLessThan(8 * MIB);
        // 44 MiB does not fit the 40 MiB free run: the heap must grow, and 40 + 2 + 44 > 48.
        long address = heap.allocate(44 * MIB, 1);
        MemStats stats = statistics.snapshot();
        assertThat(stats.heapReleased()).isGreaterThanOrEqualTo(36 * MIB);
        assertThat(stats.heapSys() - stats.heapReleased()).isLessThanOrEqualTo(48 * MIB);
        heap.free(address);
        heap.free(pin);
        heap.verify();
    }

    @Test
    void growthFirstReleasesFreePagesOverTheGoal() {
        Heap heap = heap(windowOnly());
        HeapStatistics statistics = new HeapStatistics(heap);
        // 40 MiB in use, then every other MiB freed: 1 MiB holes, resident, within the goal
        // (103% of the 40 MiB peak), so the cycle keeps them.
        List<Long> blocks = allocateTouched(heap, 40, MIB);
        heap.scavenger().cycle();
        for (int i = 0; i < blocks.size(); i += 2) {
            heap.free(blocks.get(i));
        }
        assertThat(heap.scavenger().cycle()).isZero();
        assertThat(statistics.snapshot().heapReleased()).isLessThan(MIB);
        // 4 MiB fits no hole: the heap grows by a 4 MiB step, which would take retained memory
        // 2.8 MiB past the goal; that much of the holes goes first.
        long big = heap.allocate(4 * MIB, 1);
        MemStats stats = statistics.snapshot();
        long goal = 40 * MIB / 100 * RETAIN;
        assertThat(stats.heapReleased()).isGreaterThanOrEqualTo(40 * MIB + 4 * MIB - goal);
        assertThat(stats.heapSys() - stats.heapReleased()).isLessThanOrEqualTo(goal + Pages.SIZE);
        heap.free(big);
        for (int i = 1; i < blocks.size(); i += 2) {
            heap.free(blocks.get(i));
        }
        heap.verify();
    }

    @Test
    void growthForAClassSpanFirstReleasesFreePagesOverTheGoal() {
        Heap heap = heap(windowOnly());
        HeapStatistics statistics = new HeapStatistics(heap);
        // 20 MiB of 512 KiB objects (a span each), then every other one freed: 512 KiB holes.
        List<Long> blocks = allocateTouched(heap, 40, 512 << 10);
        heap.scavenger().cycle();
        for (int i = 0; i < blocks.size(); i += 2) {
            heap.free(blocks.get(i));
        }
        assertThat(heap.scavenger().cycle()).isZero();
        assertThat(statistics.snapshot().heapReleased()).isLessThan(MIB);
        // A 1 MiB object's span fits no hole: its central list has the heap grow by a step, which
        // would take retained memory past the goal, so holes go first, as for any growth.
        long big = heap.allocate(MIB, 1);
        MemStats stats = statistics.snapshot();
        long goal = 20 * MIB / 100 * RETAIN;
        assertThat(stats.heapReleased()).isGreaterThanOrEqualTo(20 * MIB + 4 * MIB - goal);
        heap.free(big);
        for (int i = 1; i < blocks.size(); i += 2) {
            heap.free(blocks.get(i));
        }
        heap.verify();
    }

    @Test
    void whatIsInUseNowRaisesAStaleGoal() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get));
        HeapStatistics statistics = new HeapStatistics(heap);
        List<Long> blocks = allocateTouched(heap, 4, 2 * MIB);
        heap.scavenger().cycle();
        // The last cycle's goal is 103% of 8 MiB, but 200 MiB are in use since: freeing 2 MiB
        // of them leaves retained memory within 103% of what is in use now, so nothing goes.
        blocks.addAll(allocateTouched(heap, 96, 2 * MIB));
        heap.free(blocks.removeLast());
        assertThat(statistics.snapshot().heapReleased()).isLessThan(MIB);
        blocks.forEach(heap::free);
    }

    @Test
    void largeFreeReleasesWhatIsOverTheGoal() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get));
        HeapStatistics statistics = new HeapStatistics(heap);
        List<Long> steady = allocateTouched(heap, 20, 2 * MIB);
        for (int i = 0; i < 10; i++) {
            heap.free(steady.removeLast());
        }
        releaseAfterTheWindow(heap);
        // A burst no cycle saw, on pages released before (the heap does not grow), freed again
        // before the next cycle: each free of a block past the largest class releases what is
        // over the goal (103% of the 20 MiB in use) at once.
        List<Long> burst = allocateTouched(heap, 10, 2 * MIB);
        assertThat(statistics.snapshot().heapReleased()).isLessThan(MIB);
        burst.forEach(heap::free);
        MemStats stats = statistics.snapshot();
        long goal = 20 * MIB / 100 * RETAIN;
        assertThat(stats.heapReleased()).isGreaterThanOrEqualTo(40 * MIB - goal);
        assertThat(stats.heapSys() - stats.heapReleased()).isLessThanOrEqualTo(goal);
        steady.forEach(heap::free);
        heap.verify();
    }

    @Test
    void aClassSpanFreedToThePageHeapReleasesWhatIsOverTheGoal() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get));
        HeapStatistics statistics = new HeapStatistics(heap);
        // 512 KiB objects, one per span: past what the central list keeps, a freed one sends
        // its span to the page heap.
        long size = 512 << 10;
        List<Long> steady = allocateTouched(heap, 40, size);
        for (int i = 0; i < 20; i++) {
            heap.free(steady.removeLast());
        }
        releaseAfterTheWindow(heap);
        List<Long> burst = allocateTouched(heap, 20, size);
        assertThat(statistics.snapshot().heapReleased()).isLessThan(MIB);
        burst.forEach(heap::free);
        // What stays is the steady 10 MiB, 3% over it, and what the central list keeps idle.
        MemStats stats = statistics.snapshot();
        assertThat(stats.heapReleased()).isGreaterThanOrEqualTo(6 * MIB);
        assertThat(stats.heapSys() - stats.heapReleased())
                .isLessThanOrEqualTo(10 * MIB / 100 * RETAIN + heap.idleCentralBytes() + Pages.SIZE);
        steady.forEach(heap::free);
        heap.verify();
    }

    @Test
    void aBurstThatGrowsTheHeapCountsAsAPeak() {
        Heap heap = heap(windowOnly());
        HeapStatistics statistics = new HeapStatistics(heap);
        List<Long> steady = allocateTouched(heap, 10, 2 * MIB);
        heap.scavenger().cycle();
        // 20 MiB more between two cycles: the heap grows for it, and the growths saw it in use,
        // so its frees keep the pages, as they would had a cycle seen the burst.
        List<Long> burst = allocateTouched(heap, 10, 2 * MIB);
        burst.forEach(heap::free);
        assertThat(statistics.snapshot().heapReleased()).isLessThan(4 * MIB);
        // And the next cycle keeps it for the window, then lets it go.
        assertThat(heap.scavenger().cycle()).isLessThan(4 * MIB);
        releaseAfterTheWindow(heap);
        assertThat(statistics.snapshot().heapReleased()).isGreaterThanOrEqualTo(16 * MIB);
        steady.forEach(heap::free);
    }

    @Test
    void largeFreeWithinTheWindowKeepsItsPages() {
        Heap heap = heap(windowOnly());
        HeapStatistics statistics = new HeapStatistics(heap);
        List<Long> blocks = allocateTouched(heap, 20, 2 * MIB);
        heap.scavenger().cycle();
        // The cycle saw 40 MiB in use within the window: freeing half of it keeps the pages for
        // the allocations that come back.
        for (int i = 0; i < 10; i++) {
            heap.free(blocks.removeLast());
        }
        assertThat(statistics.snapshot().heapReleased()).isLessThan(MIB);
        blocks.forEach(heap::free);
    }

    /** A heap with the default ceiling whose use just dropped: a cycle saw its blocks of a MiB in use, then some were freed. */
    private record Dropped(Heap heap, HeapStatistics statistics, List<Long> blocks) {

        long released() {
            return statistics.snapshot().heapReleased();
        }

        long retained() {
            MemStats stats = statistics.snapshot();
            return stats.heapSys() - stats.heapReleased();
        }

        /** Frees one more block: a large free, which releases what is past the ceiling. */
        void freeOne() {
            heap.free(blocks.removeLast());
        }

        void freeTheRest() {
            blocks.forEach(heap::free);
            heap.verify();
        }
    }

    private Dropped dropAfterACycle(int mebibytes, int freed) {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get));
        Dropped dropped = new Dropped(heap, new HeapStatistics(heap), allocateTouched(heap, mebibytes, MIB));
        heap.scavenger().cycle();
        for (int i = 0; i < freed; i++) {
            dropped.freeOne();
        }
        return dropped;
    }

    @Test
    void aLargeFreeThatPassesTheCeilingReleasesTheExcessAtOnce() {
        // 160 MiB was in use a moment ago, so the window alone would keep every page; the ceiling
        // keeps 110% of the 90 MiB still in use, released by the frees themselves (no cycle runs).
        Dropped dropped = dropAfterACycle(160, 70);
        assertThat(dropped.retained())
                .isLessThanOrEqualTo(90 * MIB / 100 * HeapConfig.Scavenging.DEFAULT_MAX_RETAIN_PERCENT)
                .isGreaterThanOrEqualTo(90 * MIB + Scavenger.MIN_HEADROOM_BYTES);
        dropped.freeTheRest();
    }

    @Test
    void theCeilingReleasesItsBurstAtOnceAndTheRestAtItsRate() {
        // 90 MiB past the ceiling of the 100 MiB left in use: the burst goes at once, no more
        // (give or take what the release rounds up to whole free runs).
        Dropped dropped = dropAfterACycle(200, 100);
        long burst = dropped.released();
        assertThat(burst).isBetween(Scavenger.CAP_RELEASE_BURST_BYTES, Scavenger.CAP_RELEASE_BURST_BYTES + MIB);
        // A quarter of a second gives back a quarter of the rate, which the next large free takes.
        now.addAndGet(SECOND / 4);
        dropped.freeOne();
        long quarter = Scavenger.CAP_RELEASE_BYTES_PER_SECOND / 4;
        assertThat(dropped.released() - burst).isBetween(quarter - MIB, quarter + MIB);
        // A second later the allowance is whole again: retained memory comes down to the ceiling.
        now.addAndGet(SECOND);
        dropped.freeOne();
        assertThat(dropped.retained()).isLessThanOrEqualTo(98 * MIB / 100 * HeapConfig.Scavenging.DEFAULT_MAX_RETAIN_PERCENT);
        dropped.freeTheRest();
    }

    @Test
    void theCeilingLeavesASmallHeapItsMinimumHeadroom() {
        // 8 MiB freed of 20: past 110% of the 12 MiB left, but not past 8 MiB over it.
        Dropped dropped = dropAfterACycle(20, 8);
        assertThat(dropped.released()).isLessThan(MIB);
        // One more MiB passes the headroom: that much goes.
        dropped.freeOne();
        assertThat(dropped.retained()).isLessThanOrEqualTo(11 * MIB + Scavenger.MIN_HEADROOM_BYTES);
        assertThat(dropped.released()).isGreaterThanOrEqualTo(MIB);
        dropped.freeTheRest();
    }

    @Test
    void aCycleBringsMemoryThatNoLargeFreeReleasedDownToTheCeiling() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get));
        HeapStatistics statistics = new HeapStatistics(heap);
        // 64 KiB blocks: every other one freed, so no span empties, nothing reaches the page heap
        // and no free releases inline; only the cycle can apply the ceiling, to idle central memory.
        List<Long> blocks = allocateTouched(heap, 3200, 64 << 10);
        heap.scavenger().cycle();
        for (int i = 0; i < blocks.size(); i += 2) {
            heap.free(blocks.get(i));
        }
        assertThat(statistics.snapshot().heapReleased()).isLessThan(MIB);
        now.addAndGet(SECOND / 10);
        while (heap.scavenger().cycle() > 0) {
            now.addAndGet(1_000_000);
        }
        // Still within the window of the 200 MiB peak: the ceiling, not the window, released it.
        MemStats stats = statistics.snapshot();
        assertThat(stats.heapReleased()).isGreaterThan(0);
        for (int i = 1; i < blocks.size(); i += 2) {
            heap.free(blocks.get(i));
        }
        heap.verify();
    }

    @Test
    void aRetainPercentAboveTheCeilingRaisesIt() {
        Heap ceiling = heap(HeapConfig.Scavenging.manual(now::get));
        Heap generous = heap(new HeapConfig.Scavenging(false, 150, 0, HeapConfig.Scavenging.DEFAULT_WINDOW_NANOS,
                now::get, nanos -> { }));
        for (Heap heap : List.of(ceiling, generous)) {
            List<Long> blocks = allocateTouched(heap, 200, MIB);
            heap.scavenger().cycle();
            // 140 MiB left in use: the default ceiling keeps 154 MiB of the 200 retained, while
            // retainPercent 150 (210 MiB) keeps them all.
            for (int i = 0; i < 60; i++) {
                heap.free(blocks.removeLast());
            }
            long released = new HeapStatistics(heap).snapshot().heapReleased();
            if (heap == ceiling) {
                assertThat(released).isGreaterThanOrEqualTo(200 * MIB - 140 * MIB / 100 * 110);
            } else {
                assertThat(released).isLessThan(MIB);
            }
            blocks.forEach(heap::free);
        }
    }

    @Test
    void softLimitCapsTheGoal() {
        Heap heap = heap(HeapConfig.Scavenging.manual(now::get).withSoftLimit(20 * MIB));
        List<Long> blocks = allocateTouched(heap, 30, MIB);
        heap.scavenger().cycle();
        heap.free(blocks.remove(0));
        heap.free(blocks.remove(0));
        // The peak (30 MiB) is recent, but the soft limit caps the goal at 95% of 20 MiB.
        assertThat(heap.scavenger().goal(now.get())).isEqualTo(20 * MIB / 100 * 95);
        assertThat(heap.scavenger().cycle()).isGreaterThanOrEqualTo(2 * MIB);
        blocks.forEach(heap::free);
    }

    @Test
    void overTheSoftLimitMeansPastNinetyFivePercentOfIt() {
        Scavenger limited = heap(HeapConfig.Scavenging.manual(now::get).withSoftLimit(20 * MIB)).scavenger();
        long target = 20 * MIB / 100 * 95;
        assertThat(limited.overSoftLimit(target)).isFalse();
        assertThat(limited.overSoftLimit(target + 1)).isTrue();
        assertThat(heap(HeapConfig.Scavenging.manual(now::get)).scavenger().overSoftLimit(Long.MAX_VALUE))
                .as("no soft limit").isFalse();
    }

    @Test
    void growthToTheSoftLimitReleasesNothingForItAndPastItDownToItsTarget() {
        // No cycle has run, so there is no goal yet: only the limit asks for a release.
        Scavenger limited = heap(HeapConfig.Scavenging.manual(now::get).withSoftLimit(20 * MIB)).scavenger();
        assertThat(limited.beforeGrowth(16 * MIB, 4 * MIB, 16 * MIB)).as("growth up to the limit").isZero();
        assertThat(limited.beforeGrowth(16 * MIB, 4 * MIB + 1, 16 * MIB)).as("one byte past it")
                .isEqualTo(20 * MIB + 1 - 20 * MIB / 100 * 95);
        Scavenger unlimited = heap(HeapConfig.Scavenging.manual(now::get)).scavenger();
        assertThat(unlimited.beforeGrowth(16 * MIB, 4 * MIB, 16 * MIB)).as("no limit, no goal yet").isZero();
    }

    @Test
    void stopEndsTheBackgroundThreadBeforeItReturns() throws Exception {
        AtomicReference<Thread> background = new AtomicReference<>();
        CountDownLatch sleeping = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        CountDownLatch windDown = new CountDownLatch(1);
        HeapConfig.Scavenging idle = new HeapConfig.Scavenging(false, 110, 0, SECOND, now::get, nanos -> {
            background.set(Thread.currentThread());
            sleeping.countDown();
            try {
                never.await();
            } catch (InterruptedException stopping) {
                // A thread slow to wind down: it ends only when the test lets it.
                interrupted.countDown();
                windDown.await();
                throw stopping;
            }
        });
        Scavenger scavenger = heap(idle).scavenger();
        scavenger.start(idle.sleeper());
        assertThat(sleeping.await(TestThreads.BOUND.toSeconds(), TimeUnit.SECONDS)).as("first sleep").isTrue();
        Thread stopper = Thread.ofPlatform().start(scavenger::stop);
        assertThat(interrupted.await(TestThreads.BOUND.toSeconds(), TimeUnit.SECONDS)).as("interrupted").isTrue();
        // The background thread cannot end yet, so stop must be waiting for it, not returned.
        Thread.State stopperState;
        while ((stopperState = stopper.getState()) != Thread.State.WAITING && stopperState != Thread.State.TERMINATED) {
            Thread.onSpinWait();
        }
        windDown.countDown();
        TestThreads.join(stopper);
        assertThat(stopperState).as("stop returned before the scavenger's thread ended").isEqualTo(Thread.State.WAITING);
        assertThat(background.get().isAlive()).as("the scavenger's thread is gone").isFalse();
    }

    @Test
    void backgroundThreadPacesItselfToOnePercent() throws Exception {
        long tick = 1_000_000;
        // 40 MiB to release at 16 MiB a cycle: three working cycles, each followed by 99 times its
        // two ticks, then an idle one.
        assertThat(sleepsOfFourCycles(tick)).containsExactly(99 * 2 * tick, 99 * 2 * tick, 99 * 2 * tick,
                Scavenger.IDLE_SLEEP_NANOS);
    }

    @Test
    void aSlowCycleSleepsAtMostASecond() throws Exception {
        // Cycles that take 100 ms would sleep 9.9 s each at 1%; RSS must follow within about a second.
        assertThat(sleepsOfFourCycles(50_000_000)).containsExactly(Scavenger.MAX_SLEEP_NANOS,
                Scavenger.MAX_SLEEP_NANOS, Scavenger.MAX_SLEEP_NANOS, Scavenger.IDLE_SLEEP_NANOS);
    }

    /**
     * Cycles that find nothing to release sleep twice as long each time, up to a quarter of the
     * window (here 250 ms); a cycle that releases starts the idle pace again. With a fixed idle
     * sleep, every idle heap woke 20 times a second for nothing.
     */
    @Test
    void idleCyclesBackOffAndAReleaseStartsThemAgain() throws Exception {
        long tick = 1_000_000;
        List<Long> sleeps = new ArrayList<>();
        AtomicLong clock = new AtomicLong();
        CountDownLatch sixthSleep = new CountDownLatch(1);
        CountDownLatch freed = new CountDownLatch(1);
        CountDownLatch tenSleeps = new CountDownLatch(1);
        HeapConfig.Scavenging paced = new HeapConfig.Scavenging(false, 110, 0, SECOND,
                () -> clock.addAndGet(tick), nanos -> {
                    int count;
                    synchronized (sleeps) {
                        sleeps.add(nanos);
                        count = sleeps.size();
                    }
                    if (count == 6) {
                        sixthSleep.countDown();
                        if (!freed.await(TestThreads.BOUND.toSeconds(), java.util.concurrent.TimeUnit.SECONDS)) {
                            throw new InterruptedException("the test never freed");
                        }
                    } else if (count == 10) {
                        tenSleeps.countDown();
                        throw new InterruptedException("enough");
                    }
                }, Integer.MAX_VALUE);
        Heap heap = heap(paced);
        try {
            List<Long> blocks = allocateTouched(heap, 40, MIB);
            heap.scavenger().start(paced.sleeper());
            assertThat(sixthSleep.await(TestThreads.BOUND.toSeconds(), java.util.concurrent.TimeUnit.SECONDS))
                    .as("six idle cycles").isTrue();
            blocks.forEach(heap::free);
            heap.flushThreadCache();
            // The peak leaves the window: the next cycles release the 40 MiB, 16 MiB at a time (no
            // ceiling, which would have released most of it at the frees).
            clock.addAndGet(10 * SECOND);
            freed.countDown();
            assertThat(tenSleeps.await(TestThreads.BOUND.toSeconds(), java.util.concurrent.TimeUnit.SECONDS))
                    .as("ten scavenger cycles").isTrue();
            heap.scavenger().stop();
            long idle = Scavenger.IDLE_SLEEP_NANOS;
            long working = 99 * 2 * tick;
            synchronized (sleeps) {
                long quarterWindow = SECOND / 4;
                assertThat(sleeps).containsExactly(idle, 2 * idle, 4 * idle, quarterWindow, quarterWindow,
                        quarterWindow, working, working, working, idle);
            }
        } finally {
            heap.close();
        }
    }

    /** The background thread's first four sleeps, on a clock that advances {@code tick} at every reading. */
    private List<Long> sleepsOfFourCycles(long tick) throws Exception {
        List<Long> sleeps = new ArrayList<>();
        CountDownLatch fourSleeps = new CountDownLatch(4);
        AtomicLong clock = new AtomicLong();
        // Every reading of the clock advances it one tick: a cycle that reads it at its start, inside
        // and at its end "takes" two ticks.
        HeapConfig.Scavenging paced = new HeapConfig.Scavenging(false, 110, 0, SECOND,
                () -> clock.addAndGet(tick), nanos -> {
                    synchronized (sleeps) {
                        sleeps.add(nanos);
                    }
                    fourSleeps.countDown();
                    if (fourSleeps.getCount() == 0) {
                        throw new InterruptedException("enough");
                    }
                });
        Heap heap = heap(paced);
        try {
            allocateTouched(heap, 40, MIB).forEach(heap::free);
            clock.addAndGet(10 * SECOND);
            heap.scavenger().start(paced.sleeper());
            assertThat(fourSleeps.await(TestThreads.BOUND.toSeconds(), java.util.concurrent.TimeUnit.SECONDS))
                    .as("four scavenger cycles").isTrue();
            heap.scavenger().stop();
            synchronized (sleeps) {
                return List.copyOf(sleeps);
            }
        } finally {
            heap.close();
        }
    }

    @Test
    void scavtraceWritesOneLinePerCycle() {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setProperty("spanheap.scavtrace", "1");
        Heap heap;
        try {
            heap = heap(HeapConfig.Scavenging.manual(now::get));
        } finally {
            System.clearProperty("spanheap.scavtrace");
        }
        try {
            allocateTouched(heap, 8, MIB).forEach(heap::free);
            now.addAndGet(10 * SECOND);
            System.setErr(new PrintStream(captured, true));
            heap.scavenger().cycle();
        } finally {
            System.setErr(original);
            heap.close();
        }
        assertThat(captured.toString()).matches(
                "spanheap scav: \\d+ KiB released, \\d+ KiB retained, \\d+ KiB in use, \\d+% util, \\d+ KiB total\\R");
    }
}
