package dev.spanheap.tests;

import static dev.spanheap.proptest.Gen.weighted;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.Spanheap;
import dev.spanheap.proptest.Gen;
import dev.spanheap.proptest.Property;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The heap's arenas over random sequences, against a model of what each holds: every segment has
 * the size and alignment asked for, reads as zero when handed out, overlaps no other segment and no
 * block the heap handed out beside the arena, and keeps what was written into it until the arena
 * closes; the close gives back every block the arena took and leaves the heap's own blocks alone.
 * Sizes cross the arena's edges: carved from its chunks (up to 8 KiB), chunks growing to 32 KiB,
 * blocks of their own past that, and alignments up to 16 KiB.
 */
class ArenaModelProperties {

    /** A step: an arena segment, a heap block beside the arena, a free of one of those, or a check of all. */
    sealed interface Step {
    }

    record Segment(long size, long alignment) implements Step {
    }

    record HeapBlock(long size) implements Step {
    }

    record FreeHeapBlock(int pick) implements Step {
    }

    record CheckAll() implements Step {
    }

    private static final long MAX_SIZE = 80 << 10;

    static Gen<List<Step>> sequences() {
        Gen<Long> sizes = Gen.frequency(weighted(6, Gen.logUniform(0, 8 << 10)), weighted(1, Gen.logUniform(0, MAX_SIZE)));
        Gen<Long> alignments = Gen.frequency(
                weighted(6, Gen.constant(1L)),
                weighted(3, Gen.ints(0, 6).map(bits -> 1L << bits)),
                weighted(1, Gen.ints(7, 14).map(bits -> 1L << bits)));
        Gen<Step> step = Gen.frequency(
                weighted(8, sizes.flatMap(size -> alignments.map(alignment -> (Step) new Segment(size, alignment)))),
                weighted(2, Gen.logUniform(1, MAX_SIZE).map(HeapBlock::new)),
                weighted(1, Gen.ints(0, 1 << 16).map(FreeHeapBlock::new)),
                weighted(1, Gen.constant(new CheckAll())));
        return Gen.lists(step, 1, 120);
    }

    /** A range of memory the model knows, and the byte it was filled with. */
    private record Filled(MemorySegment memory, byte value) {
    }

    @ParameterizedTest(name = "shared {0}")
    @ValueSource(booleans = {false, true})
    void segmentsKeepSizeAlignmentZeroesAndContentsAndTheCloseGivesEverythingBack(boolean shared) {
        Property.forAll(sequences()).tries(150).check(steps -> run(shared, steps));
    }

    private static void run(boolean shared, List<Step> steps) {
        try (Spanheap heap = Spanheap.builder().maxHeapSize(1L << 30).scavenger(false).build()) {
            // Dirty memory first, so that a segment that is not zeroed shows it.
            List<MemorySegment> dirt = new ArrayList<>();
            for (long size = 16; size <= MAX_SIZE; size *= 2) {
                for (int i = 0; i < 4; i++) {
                    dirt.add(heap.allocate(size).fill((byte) 0x5d));
                }
            }
            dirt.forEach(heap::free);
            long objectsBefore = heap.memStats().heapObjects();
            List<Filled> segments = new ArrayList<>();
            List<Filled> blocks = new ArrayList<>();
            Arena arena = shared ? heap.newSharedArena() : heap.newConfinedArena();
            byte next = 1;
            for (Step step : steps) {
                switch (step) {
                    case Segment(long size, long alignment) -> {
                        MemorySegment segment = arena.allocate(size, alignment);
                        assertThat(segment.byteSize()).isEqualTo(size);
                        assertThat(segment.address() % alignment).as("aligned to %d", alignment).isZero();
                        assertThat(isAllZero(segment)).as("a new %d-byte segment reads as zero", size).isTrue();
                        segments.add(fill(segment, next++));
                    }
                    case HeapBlock(long size) -> blocks.add(fill(heap.allocate(size), next++));
                    case FreeHeapBlock(int pick) -> {
                        if (!blocks.isEmpty()) {
                            Filled block = blocks.remove(pick % blocks.size());
                            assertFilled(block);
                            heap.free(block.memory());
                        }
                    }
                    case CheckAll() -> {
                        segments.forEach(ArenaModelProperties::assertFilled);
                        blocks.forEach(ArenaModelProperties::assertFilled);
                    }
                }
                if (next == 0) {
                    next = 1;
                }
                assertNoOverlap(segments, blocks);
            }
            segments.forEach(ArenaModelProperties::assertFilled);
            blocks.forEach(ArenaModelProperties::assertFilled);
            arena.close();
            for (Filled segment : segments) {
                assertThat(segment.memory().scope().isAlive()).isFalse();
                if (segment.memory().byteSize() > 0) {
                    assertThatThrownBy(() -> segment.memory().get(ValueLayout.JAVA_BYTE, 0))
                            .isInstanceOf(IllegalStateException.class);
                }
            }
            blocks.forEach(ArenaModelProperties::assertFilled);
            assertThat(heap.memStats().heapObjects()).as("the arena gave back every block it took")
                    .isEqualTo(objectsBefore + blocks.size());
            heap.verify();
            blocks.forEach(block -> heap.free(block.memory()));
            assertThat(heap.memStats().heapObjects()).isEqualTo(objectsBefore);
        }
    }

    private static Filled fill(MemorySegment memory, byte value) {
        memory.fill(value);
        return new Filled(memory, value);
    }

    private static boolean isAllZero(MemorySegment segment) {
        for (long i = 0; i < segment.byteSize(); i++) {
            if (segment.get(ValueLayout.JAVA_BYTE, i) != 0) {
                return false;
            }
        }
        return true;
    }

    private static void assertFilled(Filled filled) {
        MemorySegment memory = filled.memory();
        for (long i = 0; i < memory.byteSize(); i++) {
            byte value = memory.get(ValueLayout.JAVA_BYTE, i);
            if (value != filled.value()) {
                throw new AssertionError(String.format("byte %d of the %d bytes at 0x%x is %d, not the %d written",
                        i, memory.byteSize(), memory.address(), value, filled.value()));
            }
        }
    }

    /** No two non-empty ranges, segments and heap blocks together, share a byte. */
    private static void assertNoOverlap(List<Filled> segments, List<Filled> blocks) {
        TreeMap<Long, Long> ends = new TreeMap<>();
        List<Filled> all = new ArrayList<>(segments);
        all.addAll(blocks);
        for (Filled filled : all) {
            long start = filled.memory().address();
            long end = start + filled.memory().byteSize();
            if (end == start) {
                continue;
            }
            Map.Entry<Long, Long> below = ends.floorEntry(start);
            Map.Entry<Long, Long> above = ends.ceilingEntry(start);
            if ((below != null && below.getValue() > start) || (above != null && above.getKey() < end)) {
                throw new AssertionError(String.format("0x%x..0x%x overlaps another range", start, end));
            }
            ends.put(start, end);
        }
    }
}
