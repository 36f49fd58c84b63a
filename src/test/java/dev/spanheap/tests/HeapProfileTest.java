package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Heap profiles as Go writes them: the shape of the pprof protobuf (decoded independently with
 * protobuf-java) and exact counts when every allocation is sampled. The estimates at real rates are
 * checked against the truth by the allocator's own ProfileAccuracyTest, with a test clock.
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
        // Go's rate set here, not taken as the default: a run under -Dspanheap.profileRate changes that.
        try (Spanheap heap = Spanheap.builder().profileRate(512 * 1024).build()) {
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
            assertThat(profile.mappings()).hasSize(1);
            heap.free(block);
        }
    }

    /**
     * What pprof's tools read besides the samples' values: one mapping that says its code is
     * already symbolized and covers every location's address; locations and functions with
     * distinct ids from 1 that samples and lines resolve to; a function's system name equal to its
     * name and its file given as a path from the package; the sample's block-size label in bytes;
     * the time of writing.
     */
    @Test
    void theProfileIsWellFormedForPprofsTools() {
        try (Spanheap heap = Spanheap.builder().profileRate(1).build()) {
            List<Long> blocks = new ArrayList<>(List.of(smallSite(heap), mediumSite(heap), largeSite(heap), smallSite(heap)));
            long before = System.currentTimeMillis() * 1_000_000L;
            PprofProfile profile = profileOf(heap);
            long after = (System.currentTimeMillis() + 1) * 1_000_000L;
            assertThat(profile.timeNanos()).isBetween(before, after);

            assertThat(profile.mappings()).hasSize(1);
            PprofProfile.Mapping mapping = profile.mappings().getFirst();
            assertThat(mapping.id()).isEqualTo(1);
            assertThat(mapping.filename()).isNotEmpty();
            assertThat(mapping.hasFunctions()).isTrue();
            assertThat(mapping.hasFilenames()).isTrue();
            assertThat(mapping.hasLineNumbers()).isTrue();

            assertThat(profile.locationList()).isNotEmpty()
                    .extracting(PprofProfile.Location::id).doesNotHaveDuplicates().allMatch(id -> id >= 1);
            assertThat(profile.locationList()).extracting(PprofProfile.Location::address).doesNotHaveDuplicates();
            for (PprofProfile.Location location : profile.locationList()) {
                assertThat(location.mappingId()).isEqualTo(mapping.id());
                assertThat(location.address()).isGreaterThanOrEqualTo(mapping.memoryStart()).isLessThan(mapping.memoryLimit());
                assertThat(location.lines()).hasSize(1);
                assertThat(profile.functions()).containsKey(location.lines().getFirst()[0]);
            }
            assertThat(profile.functionList()).isNotEmpty()
                    .extracting(PprofProfile.Function::id).doesNotHaveDuplicates().allMatch(id -> id >= 1);
            for (PprofProfile.Function function : profile.functionList()) {
                assertThat(function.systemName()).isEqualTo(function.name());
            }
            assertThat(profile.functionList()).filteredOn(f -> f.name().equals(TEST_CLASS + ".smallSite"))
                    .singleElement().extracting(PprofProfile.Function::file)
                    .isEqualTo("dev/spanheap/tests/HeapProfileTest.java");

            assertThat(profile.samples()).isNotEmpty();
            for (PprofProfile.Sample sample : profile.samples()) {
                assertThat(sample.numLabels()).containsKey("bytes");
                assertThat(sample.numLabels().get("bytes")).isPositive();
                assertThat(sample.numLabelUnits()).containsEntry("bytes", "bytes");
            }
            assertThat(profile.samples()).filteredOn(sample -> sample.leaf().equals(TEST_CLASS + ".mediumSite"))
                    .singleElement().satisfies(sample -> assertThat(sample.numLabels().get("bytes"))
                            .isBetween(5000L, 5000L * 9 / 8));
            blocks.forEach(heap::free);
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

    /** A block past the largest size class (1 MiB): no cache holds it. */
    private static long hugeSite(Spanheap heap) {
        return heap.malloc(3 << 20);
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

    private static java.lang.foreign.MemorySegment segmentSite(Spanheap heap) {
        return heap.allocate(300);
    }

    private static java.lang.foreign.MemorySegment arenaSite(java.lang.foreign.Arena arena) {
        return arena.allocate(20_000);
    }

    @Test
    void segmentsAndArenasAreAttributedToTheirCallersNotToTheFfmDefaultMethods() {
        try (Spanheap heap = Spanheap.builder().profileRate(1).build()) {
            java.lang.foreign.MemorySegment segment = segmentSite(heap);
            try (java.lang.foreign.Arena arena = heap.newConfinedArena()) {
                arenaSite(arena);
                PprofProfile profile = profileOf(heap);
                assertThat(profile.total("inuse_objects", TEST_CLASS + ".segmentSite")).isEqualTo(1);
                assertThat(profile.total("inuse_objects", TEST_CLASS + ".arenaSite")).isEqualTo(1);
                assertThat(profile.samples()).allSatisfy(s -> assertThat(s.leaf()).doesNotStartWith("java.lang.foreign."));
            }
            heap.free(segment);
        }
    }

    @Test
    void sampledBlocksKeepEveryRuleOfOrdinaryBlocks() {
        for (boolean checked : new boolean[] {false, true}) {
            try (Spanheap heap = Spanheap.builder().profileRate(1).checked(checked).build()) {
                long block = heap.malloc(40);
                assertThat(heap.usableSize(block)).isEqualTo(48);
                assertThat(heap.reallocate(block, 48)).as("in place within its usable size").isEqualTo(block);
                // The block has a page to itself, but is 48 bytes, as usableSize says, in every message.
                assertThatThrownBy(() -> heap.free(block + 16)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("0x%x points inside a 48-byte block, not at its start", block + 16);
                assertThatThrownBy(() -> heap.usableSize(block + 16)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("0x%x points inside a 48-byte block, not at its start", block + 16);
                // Past its end, where unsampled blocks of its class would be: no block at all.
                assertThatThrownBy(() -> heap.free(block + 4096)).isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("0x%x is not the start of a block of this heap: it lies past the end of the"
                                + " 48-byte block at 0x%x", block + 4096, block);
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
            long[] block = new long[2];
            Thread thread = Thread.ofVirtual().start(() -> {
                block[0] = mediumSite(heap);
                block[1] = hugeSite(heap);
            });
            assertThat(thread.join(java.time.Duration.ofSeconds(60))).as("the virtual thread ended").isTrue();
            PprofProfile profile = profileOf(heap);
            assertThat(profile.total("inuse_objects", TEST_CLASS + ".mediumSite")).isEqualTo(1);
            assertThat(profile.total("inuse_objects", TEST_CLASS + ".hugeSite")).isEqualTo(1);
            heap.free(block[0]);
            heap.free(block[1]);
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
}
