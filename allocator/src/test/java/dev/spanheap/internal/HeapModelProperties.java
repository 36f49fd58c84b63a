package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.MemStats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;

/**
 * Random sequences of allocate and free against a model (a map of live blocks). After every step:
 * the heap's structures verify, the counters equal the model's and the slow recount, no two live
 * blocks overlap, and every live block still holds the pattern written when it was allocated.
 * At the end everything is freed and the committed memory must be one fully coalesced free run.
 */
class HeapModelProperties {

    private static final AtomicLong STEPS = new AtomicLong();
    private static final AtomicLong SEQUENCES = new AtomicLong();

    /** Allocate (size, alignment) or free (which live block, by index modulo the count). */
    record Step(boolean allocate, long size, long alignment, int pick) {
    }

    /** A live block: its address and segment, what was asked and what the heap counts for it. */
    record Block(long address, MemorySegment segment, long usable) {
    }

    @Property(tries = 60)
    void pageSizedAndLargerBlocks(@ForAll("largeSteps") List<Step> steps) {
        run(steps);
    }

    @Property(tries = 120)
    void smallObjectsOfEveryClass(@ForAll("smallSteps") List<Step> steps) {
        run(steps);
    }

    @Provide
    Arbitrary<List<Step>> largeSteps() {
        return steps(Arbitraries.longs().between(1, 4L << 20).withDistribution(RandomDistribution.biased()),
                Arbitraries.integers().between(0, 17), 150);
    }

    @Provide
    Arbitrary<List<Step>> smallSteps() {
        return steps(Arbitraries.longs().between(0, 64L << 10).withDistribution(RandomDistribution.biased()),
                Arbitraries.integers().between(0, 6), 250);
    }

    private static Arbitrary<List<Step>> steps(Arbitrary<Long> sizes, Arbitrary<Integer> alignmentBits, int maxSteps) {
        Arbitrary<Step> allocate = Combinators.combine(sizes, alignmentBits)
                .as((size, bits) -> new Step(true, size, 1L << bits, 0));
        Arbitrary<Step> free = Arbitraries.integers().between(0, 10_000).map(pick -> new Step(false, 0, 0, pick));
        return Arbitraries.frequencyOf(Tuple.of(3, allocate), Tuple.of(2, free)).list().ofMinSize(maxSteps / 2).ofMaxSize(maxSteps);
    }

    private static void run(List<Step> steps) {
        SEQUENCES.incrementAndGet();
        Heap heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 2L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                256 << 10, 1 << 20, false));
        HeapStatistics statistics = new HeapStatistics(heap);
        TreeMap<Long, Block> live = new TreeMap<>();
        List<Long> order = new ArrayList<>();
        long mallocs = 0;
        long frees = 0;
        try {
            for (Step step : steps) {
                STEPS.incrementAndGet();
                if (step.allocate()) {
                    long address = heap.allocate(step.size(), step.alignment());
                    assertThat(address % step.alignment()).isZero();
                    long usable = heap.usableSize(address);
                    assertThat(usable).isGreaterThanOrEqualTo(step.size());
                    Block block = new Block(address, heap.segment(address, usable), usable);
                    assertNoOverlap(live, block);
                    block.segment().fill(pattern(address));
                    live.put(address, block);
                    order.add(address);
                    mallocs++;
                } else if (!order.isEmpty()) {
                    long address = order.remove(step.pick() % order.size());
                    Block block = live.remove(address);
                    assertPattern(block);
                    heap.free(address);
                    frees++;
                }
                heap.verify();
                MemStats stats = statistics.snapshot();
                long liveBytes = live.values().stream().mapToLong(Block::usable).sum();
                assertThat(stats.mallocs()).isEqualTo(mallocs);
                assertThat(stats.frees()).isEqualTo(frees);
                assertThat(stats.heapObjects()).isEqualTo(live.size());
                assertThat(stats.heapAlloc()).isEqualTo(liveBytes);
                assertThat(stats.heapSys()).isEqualTo(stats.heapInuse() + stats.heapIdle());
                assertThat(stats.heapReleased()).isLessThanOrEqualTo(stats.heapIdle());
                assertThat(stats.heapAlloc()).isLessThanOrEqualTo(stats.heapInuse());
                assertThat(statistics.recount()).isEqualTo(new HeapStatistics.Recount(live.size(), liveBytes));
            }
            for (Block block : live.values()) {
                assertPattern(block);
                heap.free(block.address());
            }
            heap.releaseMemory();
            heap.verify();
            String pages = heap.describePages();
            assertThat(pages).as("all committed memory is one free run").doesNotContain("|", "L", "S");
            assertThat(statistics.snapshot().heapInuse()).isZero();
        } finally {
            heap.close();
        }
    }

    private static byte pattern(long address) {
        return (byte) (address * 0x9E3779B97F4A7C15L >>> 56);
    }

    private static void assertNoOverlap(TreeMap<Long, Block> live, Block block) {
        Map.Entry<Long, Block> below = live.floorEntry(block.address());
        if (below != null) {
            assertThat(below.getKey() + below.getValue().usable()).as("overlap below").isLessThanOrEqualTo(block.address());
        }
        Map.Entry<Long, Block> above = live.ceilingEntry(block.address());
        if (above != null) {
            assertThat(block.address() + block.usable()).as("overlap above").isLessThanOrEqualTo(above.getKey());
        }
    }

    private static void assertPattern(Block block) {
        byte expected = pattern(block.address());
        long size = block.usable();
        long stride = Math.max(1, size / 64);
        for (long i = 0; i < size; i += stride) {
            assertThat(block.segment().get(ValueLayout.JAVA_BYTE, i)).isEqualTo(expected);
        }
        assertThat(block.segment().get(ValueLayout.JAVA_BYTE, size - 1)).isEqualTo(expected);
    }

    @AfterContainer
    static void report() {
        System.out.printf("HeapModelProperties: %d random steps in %d sequences%n", STEPS.get(), SEQUENCES.get());
    }
}
