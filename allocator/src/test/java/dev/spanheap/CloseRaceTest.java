package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * An operation racing {@link Spanheap#close()} either completes or throws
 * {@link IllegalStateException} saying the heap is closed; never another exception (issue 16: a
 * racing free used to report that its address "lies in free pages"), and never hangs (a racing
 * release used to walk a central list that the close had turned into a cycle, for ever).
 */
class CloseRaceTest {

    private static final long[] SIZES = {8, 100, 414, 4096, 40_000, 300_000, 2 << 20};
    private static final int ROUNDS = 400;

    /** How a worker that runs until the heap closes must end. */
    private static void assertClosed(Throwable thrown) {
        assertThat(thrown).isInstanceOf(IllegalStateException.class).hasMessage("Spanheap is closed");
    }

    @Test
    void freesRacingClose() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Spanheap heap = Spanheap.builder().maxHeapSize(1L << 30).checked(round % 2 == 1).build();
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
            }, round);
            assertClosed(thrown);
        }
    }

    @Test
    void allocationsAndReleasesRacingClose() throws Exception {
        for (int round = 0; round < ROUNDS; round++) {
            Spanheap heap = Spanheap.builder().maxHeapSize(1L << 30).checked(round % 2 == 1).build();
            Throwable thrown = race(heap, () -> {
                for (int i = 0; ; i++) {
                    long address = heap.malloc(SIZES[i % SIZES.length]);
                    heap.usableSize(address);
                    heap.free(address);
                    if (i % 50 == 49) {
                        heap.releaseMemory();
                    }
                }
            }, round);
            assertClosed(thrown);
        }
    }

    /**
     * Runs {@code work}, which loops until the heap refuses, on another thread, closes the heap
     * meanwhile and returns what work threw.
     */
    private static Throwable race(Spanheap heap, Runnable work, int round) throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        Thread worker = Thread.ofPlatform().start(() -> {
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
