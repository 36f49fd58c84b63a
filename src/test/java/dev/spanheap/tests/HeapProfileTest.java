package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Heap profiles as Go writes them: the shape of the pprof protobuf (decoded independently with
 * protobuf-java), exact counts when every allocation is sampled, and, at real rates, site shares
 * and totals within 10% of the truth.
 */
class HeapProfileTest {

    private static final String TEST_CLASS = HeapProfileTest.class.getName();

    static PprofProfile profileOf(Spanheap heap) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            heap.writeHeapProfile(out);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return PprofProfile.parseGzipped(out.toByteArray());
    }

    @Test
    void theProfileHasTheSampleTypesUnitsAndPeriodOfGosHeapProfile() {
        try (Spanheap heap = Spanheap.create()) {
            assertThat(heap.profileRate()).isEqualTo(512 * 1024);
            long block = heap.malloc(1 << 20);
            PprofProfile profile = profileOf(heap);
            assertThat(profile.strings().getFirst()).isEmpty();
            assertThat(profile.sampleTypes()).containsExactly(
                    new PprofProfile.ValueType("alloc_objects", "count"),
                    new PprofProfile.ValueType("alloc_space", "bytes"),
                    new PprofProfile.ValueType("inuse_objects", "count"),
                    new PprofProfile.ValueType("inuse_space", "bytes"));
            assertThat(profile.defaultSampleType()).isEqualTo("inuse_space");
            assertThat(profile.periodType()).isEqualTo(new PprofProfile.ValueType("space", "bytes"));
            assertThat(profile.period()).isEqualTo(512 * 1024);
            assertThat(profile.timeNanos()).isPositive();
            assertThat(profile.mappings()).isEqualTo(1);
            heap.free(block);
        }
    }

    private static long smallSite(Spanheap heap) {
        return heap.malloc(100);
    }

    private static long mediumSite(Spanheap heap) {
        return heap.malloc(5000);
    }

    private static long largeSite(Spanheap heap) {
        return heap.malloc(100_000);
    }

    @Test
    void withRateOneEveryAllocationIsInTheProfileExactly() {
        try (Spanheap heap = Spanheap.builder().profileRate(1).build()) {
            List<Long> small = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                small.add(smallSite(heap));
            }
            long medium1 = mediumSite(heap);
            long medium2 = mediumSite(heap);
            long large = largeSite(heap);
            long smallSize = heap.usableSize(small.getFirst());
            long mediumSize = heap.usableSize(medium1);
            long largeSize = heap.usableSize(large);
            assertThat(smallSize).as("a sampled block reports its class's size").isEqualTo(112);
            heap.free(small.get(1));
            heap.free(small.get(2));
            heap.free(large);

            PprofProfile profile = profileOf(heap);
            String smallLeaf = TEST_CLASS + ".smallSite";
            assertThat(profile.total("alloc_objects", smallLeaf)).isEqualTo(3);
            assertThat(profile.total("alloc_space", smallLeaf)).isEqualTo(3 * smallSize);
            assertThat(profile.total("inuse_objects", smallLeaf)).isEqualTo(1);
            assertThat(profile.total("inuse_space", smallLeaf)).isEqualTo(smallSize);
            String mediumLeaf = TEST_CLASS + ".mediumSite";
            assertThat(profile.total("alloc_space", mediumLeaf)).isEqualTo(2 * mediumSize);
            assertThat(profile.total("inuse_space", mediumLeaf)).isEqualTo(2 * mediumSize);
            String largeLeaf = TEST_CLASS + ".largeSite";
            assertThat(profile.total("alloc_space", largeLeaf)).isEqualTo(largeSize);
            assertThat(profile.total("inuse_space", largeLeaf)).isZero();

            // Every sample carries its block size, and stacks name Java methods, files and lines.
            PprofProfile.Sample sample = profile.samples().stream().filter(s -> s.leaf().equals(smallLeaf))
                    .findFirst().orElseThrow();
            assertThat(sample.numLabels()).containsEntry("bytes", smallSize);
            assertThat(sample.frames().getFirst().file()).isEqualTo("dev/spanheap/tests/HeapProfileTest.java");
            assertThat(sample.frames().getFirst().line()).isPositive();
            assertThat(sample.frames().get(1).function())
                    .isEqualTo(TEST_CLASS + ".withRateOneEveryAllocationIsInTheProfileExactly");
            assertThat(profile.samples()).allSatisfy(s ->
                    assertThat(s.frames()).noneMatch(f -> f.function().startsWith("dev.spanheap.internal.")
                            || f.function().startsWith("dev.spanheap.Spanheap.")));

            // With every allocation sampled, the profile's totals are the statistics.
            MemStats stats = heap.memStats();
            assertThat(profile.total("inuse_space", null)).isEqualTo(stats.heapAlloc());
            assertThat(profile.total("inuse_objects", null)).isEqualTo(stats.heapObjects());
            assertThat(profile.total("alloc_space", null)).isEqualTo(stats.totalAlloc());
            assertThat(profile.total("alloc_objects", null)).isEqualTo(stats.mallocs());
            heap.verify();
            heap.free(small.getFirst());
            heap.free(medium1);
            heap.free(medium2);
        }
    }

    @Test
    void sampledBlocksKeepEveryRuleOfOrdinaryBlocks() {
        for (boolean checked : new boolean[] {false, true}) {
            try (Spanheap heap = Spanheap.builder().profileRate(1).checked(checked).build()) {
                long block = heap.malloc(40);
                assertThat(heap.usableSize(block)).isEqualTo(48);
                assertThat(heap.reallocate(block, 48)).as("in place within its usable size").isEqualTo(block);
                assertThatThrownBy(() -> heap.free(block + 16)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("points inside");
                heap.verify();
                heap.free(block);
                assertThatThrownBy(() -> heap.free(block)).isInstanceOf(IllegalStateException.class)
                        .hasMessageStartingWith("double free");
                assertThatThrownBy(() -> heap.usableSize(block)).isInstanceOf(IllegalStateException.class);
                long large = heap.malloc(300_000);
                heap.free(large);
                assertThatThrownBy(() -> heap.free(large)).isInstanceOf(IllegalStateException.class)
                        .hasMessageStartingWith("double free");
                heap.verify();
                assertThat(heap.memStats().heapObjects()).isZero();
                assertThat(heap.memStats().heapAlloc()).isZero();
            }
        }
    }

    @Test
    void virtualThreadsAreSampledToo() throws Exception {
        try (Spanheap heap = Spanheap.builder().profileRate(1).build()) {
            long[] block = new long[1];
            Thread thread = Thread.ofVirtual().start(() -> block[0] = mediumSite(heap));
            assertThat(thread.join(java.time.Duration.ofSeconds(60))).as("the virtual thread ended").isTrue();
            PprofProfile profile = profileOf(heap);
            assertThat(profile.total("inuse_objects", TEST_CLASS + ".mediumSite")).isEqualTo(1);
            heap.free(block[0]);
        }
    }

    @Test
    void profilingOffWritesAProfileWithNoSamples() {
        try (Spanheap heap = Spanheap.builder().profileRate(0).build()) {
            long block = heap.malloc(1 << 20);
            PprofProfile profile = profileOf(heap);
            assertThat(profile.samples()).isEmpty();
            assertThat(profile.period()).isZero();
            assertThat(profile.sampleTypes()).hasSize(4);
            heap.free(block);
        }
    }

    @Test
    void aNegativeRateIsRefused() {
        assertThatThrownBy(() -> Spanheap.builder().profileRate(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("profileRate must not be negative: -1");
    }

    // ---- accuracy at real rates ----

    /** 60% of the bytes, in blocks of 16000 bytes. */
    private static long bigSite(Spanheap heap) {
        return heap.malloc(16_000);
    }

    /** 30%, in blocks of 2000 bytes. */
    private static long midSite(Spanheap heap) {
        return heap.malloc(2_000);
    }

    /** 10%, in blocks of 250 bytes. */
    private static long smallestSite(Spanheap heap) {
        return heap.malloc(250);
    }

    private static final Map<String, Double> SHARES = Map.of(
            TEST_CLASS + ".bigSite", 0.6, TEST_CLASS + ".midSite", 0.3, TEST_CLASS + ".smallestSite", 0.1);

    /**
     * Allocates {@code totalBytes} (counted at the blocks' usable sizes) in the shares above,
     * interleaved, keeping one block in {@code keepOneIn} (0: none) and freeing the rest at once.
     */
    private static List<Long> allocateInShares(Spanheap heap, long totalBytes, int keepOneIn) {
        List<Long> kept = new ArrayList<>();
        long[] usable = {usableOnce(heap, bigSite(heap)), usableOnce(heap, midSite(heap)),
                usableOnce(heap, smallestSite(heap))};
        long[] target = {(long) (totalBytes * 0.6), (long) (totalBytes * 0.3), (long) (totalBytes * 0.1)};
        long[] done = new long[3];
        long[] count = new long[3];
        long step = 0;
        while (done[0] < target[0] || done[1] < target[1] || done[2] < target[2]) {
            for (int site = 0; site < 3; site++) {
                // Keep every site at the same fraction of its target, so the sites interleave.
                if (done[site] * 1000 / target[site] > step) {
                    continue;
                }
                long block = switch (site) {
                    case 0 -> bigSite(heap);
                    case 1 -> midSite(heap);
                    default -> smallestSite(heap);
                };
                done[site] += usable[site];
                if (keepOneIn > 0 && count[site]++ % keepOneIn == 0) {
                    kept.add(block);
                } else {
                    heap.free(block);
                }
            }
            if (done[0] * 1000 / target[0] > step && done[1] * 1000 / target[1] > step
                    && done[2] * 1000 / target[2] > step) {
                step++;
            }
        }
        return kept;
    }

    /** The usable size of {@code block}, which is then freed. */
    private static long usableOnce(Spanheap heap, long block) {
        long usable = heap.usableSize(block);
        heap.free(block);
        return usable;
    }

    @Test
    void allocatedSpaceByCallSiteIsWithinTenPercentAtTheDefaultRate() {
        try (Spanheap heap = Spanheap.create()) {
            // 12 GiB allocated and freed: about 2400 samples at the 10% site, so 10% is ~5 standard errors.
            allocateInShares(heap, 12L << 30, 0);
            PprofProfile profile = profileOf(heap);
            MemStats stats = heap.memStats();
            long total = profile.total("alloc_space", null);
            System.out.printf("alloc_space %d vs totalAlloc %d%n", total, stats.totalAlloc());
            assertThat((double) total).as("alloc_space against totalAlloc")
                    .isCloseTo(stats.totalAlloc(), within(0.1 * stats.totalAlloc()));
            SHARES.forEach((site, share) -> {
                double measured = (double) profile.total("alloc_space", site) / total;
                System.out.printf("alloc_space share of %s: %.4f (true %.2f)%n", site, measured, share);
                assertThat(measured).as("%s's share of alloc_space", site).isCloseTo(share, within(0.1 * share));
                double objects = profile.total("alloc_objects", site);
                assertThat(objects).as("%s's alloc_objects", site).isPositive();
            });
        }
    }

    @Test
    void inUseSpaceByCallSiteIsWithinTenPercent() {
        // 200 MiB live at one sample per 8 KiB: ~2500 samples live at the 10% site.
        try (Spanheap heap = Spanheap.builder().profileRate(8 << 10).build()) {
            List<Long> kept = allocateInShares(heap, 1600L << 20, 8);
            PprofProfile profile = profileOf(heap);
            MemStats stats = heap.memStats();
            long inUse = profile.total("inuse_space", null);
            System.out.printf("inuse_space %d vs heapAlloc %d; inuse_objects %d vs heapObjects %d%n", inUse,
                    stats.heapAlloc(), profile.total("inuse_objects", null), stats.heapObjects());
            assertThat((double) inUse).as("inuse_space against heapAlloc")
                    .isCloseTo(stats.heapAlloc(), within(0.1 * stats.heapAlloc()));
            double objects = profile.total("inuse_objects", null);
            assertThat(objects).as("inuse_objects against heapObjects")
                    .isCloseTo(stats.heapObjects(), within(0.1 * stats.heapObjects()));
            SHARES.forEach((site, share) -> {
                double measured = (double) profile.total("inuse_space", site) / inUse;
                System.out.printf("inuse_space share of %s: %.4f (true %.2f)%n", site, measured, share);
                assertThat(measured).as("%s's share of inuse_space", site).isCloseTo(share, within(0.1 * share));
            });
            kept.forEach(heap::free);
            assertThat(profileOf(heap).total("inuse_space", null)).isZero();
        }
    }
}
