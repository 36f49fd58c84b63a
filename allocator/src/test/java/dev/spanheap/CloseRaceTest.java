package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An operation racing {@link Spanheap#close()} either completes or throws
 * {@link IllegalStateException} saying the heap is closed; never another exception (issue 16: a
 * racing free used to report that its address lies in free pages), and never hangs (a racing
 * release used to walk a central list that the close had turned into a cycle, for ever). Each
 * race runs on a platform thread, whose cache sits in the slot table, on a virtual thread with a
 * cache of its own, and on one without, whose small blocks go through its carrier's stripe on
 * paths of their own.
 */
class CloseRaceTest {

    private static final long[] SIZES = {8, 100, 414, 4096, 40_000, 300_000, 2 << 20};
    private static final int ROUNDS = 400;

    /** How a worker that runs until the heap closes must end. */
    private static void assertClosed(Throwable thrown) {
        assertThat(thrown).isInstanceOf(IllegalStateException.class).hasMessage("Spanheap is closed");
    }

    @ParameterizedTest
    @EnumSource(Worker.class)
    void freesRacingClose(Worker worker) throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Spanheap heap = worker.builder().maxHeapSize(1L << 30).checked(round % 2 == 1).build();
            Throwable thrown = race(heap, () -> {
                long[] blocks = new long[64];
                for (int i = 0; ; i++) {
                    for (int j = 0; j < blocks.length; j++) {
                        blocks[j] = heap.malloc(SIZES[(i + j) % SIZES.length]);
                    }
                    for (long block : blocks) {
                        heap.free(block);
                    }
                }
            }, round, worker);
            assertClosed(thrown);
        }
    }

    @ParameterizedTest
    @EnumSource(Worker.class)
    void allocationsAndReleasesRacingClose(Worker worker) throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Spanheap heap = worker.builder().maxHeapSize(1L << 30).checked(round % 2 == 1).build();
            Throwable thrown = race(heap, () -> {
                for (int i = 0; ; i++) {
                    long address = heap.malloc(SIZES[i % SIZES.length]);
                    heap.usableSize(address);
                    heap.free(address);
                    if (i % 50 == 49) {
                        heap.releaseMemory();
                    }
                }
            }, round, worker);
            assertClosed(thrown);
        }
    }

    /**
     * The rest of the public API racing close: segments (allocate, zeroed, reallocate, free), raw
     * reallocation, a thread's LocalHeap, arenas, statistics, profiles and verification. Each
     * either works or says the heap is closed; an access to a segment of the heap's after close
     * throws the JDK's own "Already closed", as the segment API promises.
     */
    @ParameterizedTest
    @EnumSource(Worker.class)
    void everyOperationRacingClose(Worker worker) throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Spanheap heap = worker.builder().maxHeapSize(1L << 30).checked(round % 2 == 1).profileRate(4096).build();
            AtomicReference<String> step = new AtomicReference<>();
            Throwable thrown = race(heap, () -> {
                step.set("local heap");
                // A virtual thread has no LocalHeap (it may have no cache of its own).
                LocalHeap local = worker == Worker.PLATFORM ? heap.localHeap() : null;
                for (int i = 0; ; i++) {
                    long size = SIZES[i % SIZES.length];
                    if (local != null) {
                        step.set("local heap");
                        local.free(local.malloc(size));
                        local.free(local.allocate(size));
                    }
                    step.set("allocate");
                    MemorySegment segment = heap.allocate(size);
                    step.set("segment access");
                    segment.set(ValueLayout.JAVA_BYTE, size - 1, (byte) i);
                    step.set("reallocate, free (segments)");
                    segment = heap.reallocate(segment, SIZES[(i + 3) % SIZES.length]);
                    heap.free(segment);
                    heap.free(heap.allocateZeroed(size));
                    step.set("reallocate (addresses)");
                    long address = heap.reallocate(heap.malloc(size), size * 3);
                    heap.free(heap.reallocate(address, size / 2 + 1));
                    step.set("arena");
                    try (Arena arena = i % 2 == 0 ? heap.newConfinedArena() : heap.newSharedArena()) {
                        arena.allocate(size).fill((byte) 1);
                        arena.allocate(24).fill((byte) 2);
                    }
                    step.set("reports");
                    switch (i % 6) {
                        case 0 -> heap.memStats();
                        case 1 -> heap.leakReport();
                        case 2 -> heap.verify();
                        case 3 -> heap.flushThreadCache();
                        case 4 -> heap.releaseMemory();
                        default -> writeProfile(heap);
                    }
                }
            }, round, worker);
            assertThat(thrown).as(step.get()).isInstanceOf(IllegalStateException.class);
            if (!"segment access".equals(step.get())) {
                assertClosed(thrown);
            } else {
                assertThat(thrown.getMessage()).isIn("Spanheap is closed", "Already closed");
            }
        }
    }

    private static void writeProfile(Spanheap heap) {
        try {
            heap.writeHeapProfile(OutputStream.nullOutputStream());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The thread that races the close, and the heap it races on. */
    enum Worker {
        /** A platform thread, whose cache sits in the slot table. */
        PLATFORM,
        /** A virtual thread with a cache of its own, which takes the platform thread's paths. */
        VIRTUAL,
        /** A virtual thread without one, whose small blocks go through its carrier's stripe. */
        VIRTUAL_ON_STRIPES;

        Spanheap.Builder builder() {
            return this == VIRTUAL_ON_STRIPES ? Spanheap.builder().virtualThreadCaches(0) : Spanheap.builder();
        }

        Thread.Builder threads() {
            return this == PLATFORM ? Thread.ofPlatform() : Thread.ofVirtual();
        }
    }

    /**
     * Runs {@code work}, which loops until the heap refuses, on a thread of {@code kind},
     * closes the heap meanwhile and returns what work threw.
     */
    private static Throwable race(Spanheap heap, Runnable work, int round, Worker kind)
            throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        Thread.Builder builder = kind.threads();
        Thread worker = builder.start(() -> {
            started.countDown();
            try {
                work.run();
            } catch (Throwable t) {
                thrown.set(t);
            }
        });
        assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
        // Vary where the close lands in the worker's loop: a spin of a different length each round.
        for (int spin = 0; spin < 20_000 + (round % 10) * 10_000; spin++) {
            Thread.onSpinWait();
        }
        heap.close();
        worker.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(worker.isAlive()).as("worker finished").isFalse();
        return thrown.get();
    }
}
