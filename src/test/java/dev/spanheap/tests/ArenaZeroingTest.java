package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Every segment of a heap-backed arena reads as zero, however dirty the heap memory its chunks come
 * from: the arenas run over blocks that earlier arenas and {@code malloc} users filled, with random
 * sizes and alignments, so that segments start and end everywhere within and across chunks.
 */
class ArenaZeroingTest {

    private static final byte DIRT = (byte) 0xA5;

    private final Spanheap heap = Spanheap.builder().scavenger(false).build();

    @AfterEach
    void close() {
        heap.close();
    }

    @Test
    void confinedArenaSegmentsReadAsZeroOverDirtyMemory() {
        checkZeroedOverDirtyMemory(heap::newConfinedArena);
    }

    @Test
    void sharedArenaSegmentsReadAsZeroOverDirtyMemory() {
        checkZeroedOverDirtyMemory(heap::newSharedArena);
    }

    private void checkZeroedOverDirtyMemory(Supplier<Arena> arenas) {
        dirtyTheBlocksArenasTake();
        SplittableRandom random = new SplittableRandom(7);
        for (int round = 0; round < 300; round++) {
            try (Arena arena = arenas.get()) {
                List<MemorySegment> segments = new ArrayList<>();
                int count = 1 + random.nextInt(40);
                for (int i = 0; i < count; i++) {
                    // Mostly small, as a native call's arguments are; sometimes past a chunk.
                    long size = random.nextInt(8) == 0 ? random.nextInt(20_000) : random.nextInt(600);
                    long alignment = 1L << random.nextInt(7);
                    MemorySegment segment = arena.allocate(size, alignment);
                    assertThat(firstNonZero(segment))
                            .as("round %d, segment %d of %d bytes aligned %d", round, i, size, alignment)
                            .isEqualTo(-1);
                    // Dirty it at once: a later segment's zeroing must not depend on what this one holds.
                    segment.fill(DIRT);
                    segments.add(segment);
                }
                for (MemorySegment segment : segments) {
                    assertThat(firstNotDirt(segment)).as("round %d: a later segment wrote over an earlier one", round)
                            .isEqualTo(-1);
                }
            }
        }
    }

    /** Fills blocks of every size an arena takes for its chunks and frees them, so chunks start dirty. */
    private void dirtyTheBlocksArenasTake() {
        List<Long> blocks = new ArrayList<>();
        for (long size = 2048; size <= 32 << 10; size <<= 1) {
            for (int i = 0; i < 64; i++) {
                long address = heap.malloc(size);
                MemorySegment.ofAddress(address).reinterpret(size).fill(DIRT);
                blocks.add(address);
            }
        }
        blocks.forEach(heap::free);
    }

    private static long firstNonZero(MemorySegment segment) {
        for (long i = 0; i < segment.byteSize(); i++) {
            if (segment.get(ValueLayout.JAVA_BYTE, i) != 0) {
                return i;
            }
        }
        return -1;
    }

    private static long firstNotDirt(MemorySegment segment) {
        for (long i = 0; i < segment.byteSize(); i++) {
            if (segment.get(ValueLayout.JAVA_BYTE, i) != DIRT) {
                return i;
            }
        }
        return -1;
    }
}
