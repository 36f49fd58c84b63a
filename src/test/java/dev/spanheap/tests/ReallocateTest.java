package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code reallocate}: contents kept, in place when the block allows, and free's refusals. */
class ReallocateTest {

    private final Spanheap heap = Spanheap.builder().scavenger(false).build();

    @AfterEach
    void close() {
        heap.close();
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"1,1000", "16,24", "1000,16", "4000,40000", "40000,4000", "40000,70000", "70000,2000000",
            "2000000,70000", "2000000,3000000", "100,0", "0,100"})
    void keepsTheContentsUpToTheSmallerSize(long from, long to) {
        MemorySegment segment = heap.allocate(from);
        for (long i = 0; i < from; i++) {
            segment.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31));
        }
        MemorySegment resized = heap.reallocate(segment, to);
        assertThat(resized.byteSize()).isEqualTo(to);
        for (long i = 0; i < Math.min(from, to); i++) {
            assertThat(resized.get(ValueLayout.JAVA_BYTE, i)).as("byte %d", i).isEqualTo((byte) (i * 31));
        }
        assertThat(heap.usableSize(resized.address())).isGreaterThanOrEqualTo(to);
        heap.free(resized);
        assertThat(heap.memStats().heapObjects()).isZero();
        heap.verify();
    }

    @Test
    void growsAndShrinksInPlaceWithinTheUsableSize() {
        long address = heap.malloc(100);
        long usable = heap.usableSize(address);
        assertThat(heap.reallocate(address, usable)).as("grow to the usable size").isEqualTo(address);
        assertThat(heap.reallocate(address, usable / 2 + 1)).as("shrink by less than half").isEqualTo(address);
        long mallocs = heap.memStats().mallocs();
        assertThat(heap.reallocate(address, usable)).isEqualTo(address);
        assertThat(heap.memStats().mallocs()).as("in place allocates nothing").isEqualTo(mallocs);
        long large = heap.malloc(100_000);
        assertThat(heap.reallocate(large, heap.usableSize(large))).isEqualTo(large);
        heap.free(address);
        heap.free(large);
    }

    /** "Not more than half empty" includes exactly half: TCMalloc's rule, and the boundary a mutant moved unseen. */
    @Test
    void staysInPlaceDownToExactlyHalfItsUsableSize() {
        long address = heap.malloc(100);
        long usable = heap.usableSize(address);
        assertThat(usable % 2).as("an even usable size, so that half of it is a size").isZero();
        assertThat(heap.reallocate(address, usable / 2)).as("exactly half").isEqualTo(address);
        long moved = heap.reallocate(address, usable / 2 - 1);
        assertThat(moved).as("one byte under half").isNotEqualTo(address);
        heap.free(moved);
        assertThat(heap.memStats().heapObjects()).isZero();
    }

    @Test
    void movesWhenTheBlockIsTooSmallOrWouldBeMostlyEmpty() {
        long address = heap.malloc(100);
        long grown = heap.reallocate(address, 10_000);
        assertThat(grown).isNotEqualTo(address);
        long shrunk = heap.reallocate(grown, 16);
        assertThat(shrunk).isNotEqualTo(grown);
        assertThat(heap.usableSize(shrunk)).isEqualTo(16);
        assertThatThrownBy(() -> heap.free(grown)).as("the old block was freed").isInstanceOf(IllegalStateException.class);
        MemStats stats = heap.memStats();
        assertThat(stats.heapObjects()).isEqualTo(1);
        assertThat(stats.heapAlloc()).isEqualTo(16);
        heap.free(shrunk);
    }

    @Test
    void refusesWhatFreeRefuses() {
        long live = heap.malloc(64);
        long freed = heap.malloc(64);
        heap.free(freed);
        long bigFreed = heap.malloc(1 << 20);
        heap.free(bigFreed);
        try (Arena arena = Arena.ofConfined()) {
            long foreign = arena.allocate(64).address();
            for (long bad : new long[] {0L, live + 8, freed, bigFreed, bigFreed + 8192, foreign, 4096L}) {
                Throwable refusal = catchThrowable(() -> heap.reallocate(bad, 8));
                assertThat(refusal).as("reallocate(0x%x)", bad).isNotNull();
                assertThat(refusal).as("reallocate(0x%x) refused as free refuses it", bad)
                        .hasSameClassAs(catchThrowable(() -> heap.free(bad)));
            }
            assertThat(catchThrowable(() -> heap.reallocate(freed, 8))).isInstanceOf(IllegalStateException.class);
            assertThat(catchThrowable(() -> heap.reallocate(live + 8, 8))).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> heap.reallocate(MemorySegment.NULL, 8)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("reallocate of MemorySegment.NULL");
        assertThatThrownBy(() -> heap.reallocate(live, -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("negative size: -1");
        assertThatThrownBy(() -> heap.reallocate(live, 1L << 62)).isInstanceOf(IllegalArgumentException.class);
        assertThat(heap.memStats().heapObjects()).as("nothing changed").isEqualTo(1);
        heap.verify();
        heap.free(live);
        heap.close();
        assertThatThrownBy(() -> heap.reallocate(live, 8)).isInstanceOf(IllegalStateException.class)
                .hasMessage("Spanheap is closed");
    }

    /**
     * A reallocation racing a free of the same block, on two threads: whichever loses is refused,
     * and a refused reallocation leaves nothing behind (its new block, allocated before the old one's
     * free was refused, goes back too). A block past the largest class, whose double frees are
     * caught on any thread; it moves, being shrunk below half its size.
     */
    @Test
    void aReallocationRacingAFreeOfItsBlockLeavesNothingBehind() throws Exception {
        CyclicBarrier start = new CyclicBarrier(2);
        long[] block = new long[1];
        int[] refusals = new int[2];
        Thread freer = Thread.ofPlatform().start(() -> {
            for (int round = 0; round < ROUNDS; round++) {
                await(start);
                if (catchThrowable(() -> heap.free(block[0])) != null) {
                    refusals[1]++;
                }
                await(start);
            }
        });
        for (int round = 0; round < ROUNDS; round++) {
            block[0] = heap.malloc(LARGE);
            await(start);
            long moved = 0;
            try {
                moved = heap.reallocate(block[0], 4096);
            } catch (IllegalStateException | IllegalArgumentException refused) {
                refusals[0]++;
            }
            await(start);
            if (moved != 0) {
                heap.free(moved);
            }
        }
        freer.join();
        // Each round one of the two was refused, or both ran one after the other with the
        // reallocation first and the free refused.
        assertThat(refusals[0] + refusals[1]).isEqualTo(ROUNDS);
        assertThat(heap.memStats().heapObjects()).as("blocks left live").isZero();
        heap.verify();
    }

    private static final int ROUNDS = 5_000;
    private static final long LARGE = (1 << 20) + 8192;

    private static void await(CyclicBarrier barrier) {
        try {
            barrier.await(1, TimeUnit.MINUTES);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
