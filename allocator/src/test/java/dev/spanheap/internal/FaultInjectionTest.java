package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.MemStats;
import dev.spanheap.OsMemoryException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The OS layer fails on purpose ({@link InjectedOsFaults}) at every call of a scripted workload in
 * turn, and at random: each failure surfaces as {@link OsMemoryException} or
 * {@link OutOfMemoryError} naming its figures; afterwards {@code verify()} holds, the statistics
 * still account for every live block, and once the fault is gone the workload runs to its end with
 * every block's contents intact.
 */
class FaultInjectionTest {

    /** Small commit steps (512 KiB) and a soft limit, so the workload commits and releases often. */
    private static final int COMMIT_STEP_PAGES = 64;
    private static final AtomicLong FAULTS = new AtomicLong();
    private static final AtomicLong RUNS = new AtomicLong();

    /** The workload's live blocks and counters: the model the heap's statistics must match. */
    private static final class Run {
        final InjectedOsFaults os;
        final List<long[]> live = new ArrayList<>();
        Heap heap;
        HeapStatistics statistics;
        long mallocs;
        long frees;
        int failures;

        Run(InjectedOsFaults os) {
            this.os = os;
        }

        /** Runs one step; an injected fault must come out as a documented error and change nothing. */
        void step(Runnable action) {
            try {
                action.run();
            } catch (OsMemoryException e) {
                assertThat(e.getMessage()).matches("(mmap|madvise|munmap)\\(\\d+ bytes\\) failed: errno 12 .*");
                failures++;
            } catch (OutOfMemoryError e) {
                assertThat(e.getMessage()).matches("Spanheap cannot allocate \\d+ bytes: .* \\d+ bytes are in use \\(\\d+ in blocks handed out\\)");
                failures++;
            }
            check();
        }

        void allocate(long size) {
            step(() -> {
                long address = heap.allocate(size, 1);
                long usable = heap.usableSize(address);
                MemorySegment block = heap.segments().segment(address, usable);
                block.fill(pattern(address));
                live.add(new long[] {address, usable});
                mallocs++;
            });
        }

        void freeEvery(int stride) {
            for (int i = live.size() - 1; i >= 0; i -= stride) {
                long[] block = live.get(i);
                step(() -> {
                    heap.free(block[0]);
                    live.remove(block);
                    frees++;
                });
            }
        }

        void check() {
            heap.verify();
            MemStats stats = statistics.snapshot();
            assertThat(stats.mallocs()).as("mallocs").isEqualTo(mallocs);
            assertThat(stats.frees()).as("frees").isEqualTo(frees);
            assertThat(stats.heapObjects()).as("heapObjects").isEqualTo(live.size());
            assertThat(stats.heapAlloc()).as("heapAlloc").isEqualTo(live.stream().mapToLong(b -> b[1]).sum());
            assertThat(stats.heapSys()).isEqualTo(stats.heapInuse() + stats.heapIdle());
            assertThat(statistics.recount()).isEqualTo(new HeapStatistics.Recount(live.size(),
                    live.stream().mapToLong(b -> b[1]).sum()));
            for (long[] block : live) {
                MemorySegment segment = heap.segments().segment(block[0], block[1]);
                assertThat(segment.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo(pattern(block[0]));
                assertThat(segment.get(ValueLayout.JAVA_BYTE, block[1] - 1)).isEqualTo(pattern(block[0]));
            }
        }
    }

    private static byte pattern(long address) {
        return (byte) (address * 0x9E3779B97F4A7C15L >>> 56);
    }

    /** The scripted workload: every size range, frees, releases, scavenger cycles and the soft limit. */
    private static void workload(Run run) {
        long[] sizes = {8, 100, 414, 3000, 20_000, 40_000, 300_000, 1 << 20, 3 << 20};
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < 27; i++) {
                run.allocate(sizes[(i + round) % sizes.length]);
            }
            run.freeEvery(2);
            run.step(() -> run.heap.releaseMemory());
            run.step(() -> run.heap.scavenger().cycle());
            run.step(() -> run.heap.flushThreadCache());
        }
        // A refill that takes objects from a transfer stack and then needs a new span: the flush
        // puts a few 2 KiB objects in the transfer stack while every span of the class is full.
        for (int i = 0; i < 300; i++) {
            run.allocate(2048);
        }
        for (int i = 0; i < 10; i++) {
            long[] block = run.live.getLast();
            run.step(() -> {
                run.heap.free(block[0]);
                run.live.remove(block);
                run.frees++;
            });
        }
        run.step(() -> run.heap.flushThreadCache());
        for (int i = 0; i < 40; i++) {
            run.allocate(2048);
        }
        run.freeEvery(1);
    }

    /**
     * Builds the heap (which may fail), runs the workload, then the rest with the fault gone.
     * Returns how many faults were injected.
     */
    private static int runWith(InjectedOsFaults os) {
        RUNS.incrementAndGet();
        Run run = new Run(os);
        try {
            run.heap = new Heap(new HeapConfig(os, 1L << 30, COMMIT_STEP_PAGES, 256 << 10, 1 << 20, false,
                    HeapConfig.Scavenging.manual(() -> 0L).withSoftLimit(24L << 20)));
        } catch (OsMemoryException e) {
            // Reservation or metadata mapping refused: no heap, nothing mapped left behind.
            assertThat(e.getMessage()).contains("failed: errno 12");
            FAULTS.incrementAndGet();
            os.disarm();
            run.heap = new Heap(new HeapConfig(os, 1L << 30, COMMIT_STEP_PAGES, 256 << 10, 1 << 20, false));
        }
        run.statistics = new HeapStatistics(run.heap);
        try {
            workload(run);
            os.disarm();
            FAULTS.addAndGet(os.injected());
            assertThat(run.failures).as("faults that surfaced").isLessThanOrEqualTo(os.injected());
            // The fault is gone: everything works again and every block comes back.
            workload(run);
            run.freeEvery(1);
            assertThat(run.live).isEmpty();
            run.heap.releaseMemory();
            run.check();
            MemStats stats = run.statistics.snapshot();
            assertThat(stats.heapInuse()).as("nothing in use at the end").isZero();
            assertThat(stats.heapReleased()).as("every free page released").isEqualTo(stats.heapIdle());
            return os.injected();
        } finally {
            run.heap.close();
        }
    }

    @Test
    void everyCallOfTheWorkloadFailsInTurn() {
        InjectedOsFaults counting = InjectedOsFaults.none();
        runWith(counting);
        int calls = counting.calls();
        assertThat(calls).as("the workload makes system calls of every kind").isGreaterThan(40);
        for (int n = 0; n < calls; n++) {
            InjectedOsFaults os = InjectedOsFaults.atCall(n);
            int injected = runWith(os);
            // The calls before the n-th repeat the counting run's, but for the reservation's trimming,
            // which depends on where mmap put it; a run that made fewer calls had nothing to fail.
            assertThat(injected).as("fault injected at call %d", n).isEqualTo(os.armedCalls() > n ? 1 : 0);
        }
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
    void callsFailAtRandom(long seed) {
        assertThat(runWith(InjectedOsFaults.random(seed, 0.2))).isPositive();
    }

    /**
     * A refill that has taken objects from the class's transfer stack and then cannot commit pages
     * for a new span returns what it took: found by this test, the objects were lost (out of the
     * stack, in no cache, counted in use for ever).
     */
    @Test
    void aTakeWhoseNewSpanCannotBeCommittedReturnsTheObjectsItTook() {
        InjectedOsFaults os = InjectedOsFaults.none();
        // One-page commit steps: every new span needs a commit.
        PageHeap pageHeap = new PageHeap(os, 1L << 30, 1);
        try {
            int c = SizeClassLookup.sizeClassOf(2048);
            CentralList central = new CentralList(c, pageHeap, new FreeMarks(pageHeap));
            int perSpan = SizeClasses.OBJECTS[c];
            long[] first = new long[perSpan];
            assertThat(central.take(first, 0, perSpan)).isEqualTo(perSpan);
            central.give(first, 0, 2);
            assertThat(central.transferred()).isEqualTo(2);

            os.failNextCall();
            long[] second = new long[10];
            assertThat(central.take(second, 0, 10)).as("the two transferred objects").isEqualTo(2);
            assertThat(os.injected()).isEqualTo(1);
            assertThat(new long[] {second[0], second[1]}).containsExactlyInAnyOrder(first[0], first[1]);
            assertThat(central.transferred()).isZero();
            central.verify();
            pageHeap.verify();
        } finally {
            pageHeap.close();
        }
    }

    /**
     * When the OS refuses the growth a request needs, the memory idle in the caches comes back to
     * the page heap and serves the request: eight freed 256 KiB blocks, cached by the thread, make
     * the 2 MiB run a 2 MiB block needs.
     */
    @Test
    void aRefusedGrowthIsServedFromIdleMemory() {
        InjectedOsFaults os = InjectedOsFaults.none();
        Heap heap = new Heap(new HeapConfig(os, 1L << 30, COMMIT_STEP_PAGES, 16 << 20, 32 << 20, false,
                HeapConfig.Scavenging.manual(() -> 0L)));
        try {
            long[] blocks = new long[8];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = heap.allocate(256 << 10, 1);
            }
            for (long block : blocks) {
                heap.free(block);
            }
            os.failNextCall();
            long big = heap.allocate(2 << 20, 1);
            assertThat(os.injected()).as("the growth was tried and refused").isEqualTo(1);
            heap.segments().segment(big, 2 << 20).fill((byte) 1);
            heap.free(big);
            heap.verify();
        } finally {
            heap.close();
        }
    }

    /** The background scavenger meets a refused madvise in every cycle and goes on cycling. */
    @Test
    void theBackgroundScavengerOutlivesRefusedReleases() throws InterruptedException {
        InjectedOsFaults os = InjectedOsFaults.none();
        java.util.concurrent.Semaphore sleeps = new java.util.concurrent.Semaphore(0);
        // Ten seconds pass at every reading of the clock: the recent peak is always the present, so
        // every cycle wants to release the free pages, and meets the refusal.
        java.util.concurrent.atomic.AtomicLong clock = new java.util.concurrent.atomic.AtomicLong();
        HeapConfig.Scavenging scavenging = new HeapConfig.Scavenging(true, 100, 0,
                HeapConfig.Scavenging.DEFAULT_WINDOW_NANOS, () -> clock.addAndGet(10_000_000_000L), nanos -> {
                    sleeps.release();
                });
        Heap heap = new Heap(new HeapConfig(os, 1L << 30, COMMIT_STEP_PAGES, 256 << 10, 1 << 20, false,
                scavenging));
        try {
            long block = heap.allocate(8L << 20, 1);
            heap.segments().segment(block, 8L << 20).fill((byte) 1);
            // Refusals start before the free: the scavenger cycles without pause, and a release that
            // got in between the free and the refusals would leave nothing to refuse (seen on a
            // loaded machine).
            os.failEveryCall();
            heap.free(block);
            heap.flushThreadCache();
            sleeps.drainPermits();
            // Each sleep follows a cycle that asked for madvise and was refused.
            assertThat(sleeps.tryAcquire(20, 30, java.util.concurrent.TimeUnit.SECONDS))
                    .as("twenty cycles after the refusals began").isTrue();
            assertThat(os.injected()).isPositive();
        } finally {
            os.disarm();
            heap.close();
        }
    }

    @AfterAll
    static void report() {
        System.out.printf("FaultInjectionTest: %d faults injected in %d runs%n", FAULTS.get(), RUNS.get());
    }
}
