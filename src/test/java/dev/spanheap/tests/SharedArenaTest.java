package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The heap-backed arenas under load: threads allocating from one shared arena while another thread
 * closes it, and the heap's memory back to its baseline after every close.
 */
class SharedArenaTest {

    private static final int ROUNDS = 60;
    private static final int WORKERS = 3;

    private final Spanheap heap = Spanheap.builder().scavenger(false).build();

    @AfterEach
    void close() {
        heap.close();
    }

    @Test
    void threadsAllocatingWhileAnotherClosesSeeEitherMemoryOrTheClose() throws Exception {
        long baseline = heap.memStats().heapAlloc();
        for (int round = 0; round < ROUNDS; round++) {
            Arena arena = heap.newSharedArena();
            AtomicInteger allocations = new AtomicInteger();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            ConcurrentLinkedQueue<MemorySegment> handedOut = new ConcurrentLinkedQueue<>();
            List<Thread> workers = new ArrayList<>();
            for (int w = 0; w < WORKERS; w++) {
                long seed = round * 31L + w;
                workers.add(Thread.ofPlatform().start(() -> allocateUntilClosed(arena, seed, allocations, handedOut, failure)));
            }
            // Close after some work, a different amount each round, without reading a clock.
            int target = 20 + round * 7;
            for (long spins = 0; allocations.get() < target && spins < 2_000_000_000L; spins++) {
                Thread.onSpinWait();
            }
            arena.close();
            for (Thread worker : workers) {
                assertThat(worker.join(Duration.ofMinutes(1))).as("%s finished", worker).isTrue();
            }
            assertThat(failure.get()).as("round %d", round).isNull();
            for (MemorySegment segment : handedOut) {
                assertThat(segment.scope().isAlive()).isFalse();
                if (segment.byteSize() > 0) {
                    assertThatThrownBy(() -> segment.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class)
                            .hasMessage("Already closed");
                }
            }
            heap.flushThreadCache();
            MemStats stats = heap.memStats();
            assertThat(stats.heapAlloc()).as("round %d: every block back", round).isEqualTo(baseline);
            heap.verify();
        }
    }

    /** Allocates, fills and checks segments until the arena's close stops it, which must be the only failure. */
    private static void allocateUntilClosed(Arena arena, long seed, AtomicInteger allocations,
                                            ConcurrentLinkedQueue<MemorySegment> handedOut, AtomicReference<Throwable> failure) {
        SplittableRandom random = new SplittableRandom(seed);
        try {
            while (true) {
                long size = random.nextInt(10) == 0 ? random.nextLong(8 << 10, 200 << 10) : random.nextLong(0, 600);
                MemorySegment segment = arena.allocate(size, 1L << random.nextInt(7));
                handedOut.add(segment);
                for (long i = 0; i < size; i += 64) {
                    if (segment.get(ValueLayout.JAVA_BYTE, i) != 0) {
                        throw new AssertionError("segment not zeroed at " + i + ": " + segment);
                    }
                }
                byte mark = (byte) random.nextInt();
                segment.fill(mark);
                for (long i = 0; i < size; i += 16) {
                    if (segment.get(ValueLayout.JAVA_BYTE, i) != mark) {
                        throw new AssertionError("another allocation overwrote " + segment + " at " + i);
                    }
                }
                allocations.incrementAndGet();
            }
        } catch (IllegalStateException closed) {
            if (!"Already closed".equals(closed.getMessage())) {
                failure.set(closed);
            }
        } catch (Throwable e) {
            failure.set(e);
        }
    }

    @Test
    void closingAConfinedArenaGivesBackAllItsMemory() {
        long baseline = heap.memStats().heapAlloc();
        for (int round = 0; round < 20; round++) {
            try (Arena arena = heap.newConfinedArena()) {
                for (int i = 0; i < 100 * round; i++) {
                    arena.allocate(1 + (i * 97L) % (i % 10 == 0 ? 300_000 : 900), 8);
                }
                assertThat(heap.memStats().heapAlloc()).isGreaterThanOrEqualTo(baseline);
            }
            assertThat(heap.memStats().heapAlloc()).as("round %d", round).isEqualTo(baseline);
        }
        heap.verify();
    }

    @Test
    void anArenaOfAClosedHeapRefusesToOpen() {
        heap.close();
        assertThatThrownBy(heap::newConfinedArena).isInstanceOf(IllegalStateException.class).hasMessage("Spanheap is closed");
        assertThatThrownBy(heap::newSharedArena).isInstanceOf(IllegalStateException.class).hasMessage("Spanheap is closed");
    }

    @Test
    void closingTheHeapUnderAnOpenArenaLeavesTheArenaSafeToClose() {
        Arena arena = heap.newConfinedArena();
        MemorySegment segment = arena.allocate(100);
        heap.close();
        assertThatThrownBy(() -> arena.allocate(100_000)).isInstanceOf(IllegalStateException.class)
                .hasMessage("Spanheap is closed");
        arena.close();
        assertThatThrownBy(() -> segment.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void anArenaClosingWhileItsHeapClosesNeverThrows() throws Exception {
        for (int round = 0; round < 300; round++) {
            Spanheap racing = Spanheap.builder().scavenger(false).build();
            Arena arena = round % 2 == 0 ? racing.newSharedArena() : racing.newConfinedArena();
            // Blocks of their own beside the first chunk, so that the arena's close takes a while.
            for (int i = 0; i < 32; i++) {
                arena.allocate(100_000);
            }
            CountDownLatch closing = new CountDownLatch(1);
            Thread heapCloser = Thread.ofPlatform().start(() -> {
                closing.countDown();
                racing.close();
            });
            closing.await();
            arena.close();
            heapCloser.join(Duration.ofSeconds(30));
            assertThat(heapCloser.isAlive()).isFalse();
            assertThatThrownBy(() -> racing.malloc(1)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("Spanheap is closed");
        }
    }
}
