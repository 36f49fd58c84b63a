package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * {@link SegmentArenas} on its own: an arena per stripe, made once and then found without a lock;
 * none made after close; and, racing close, none left open.
 */
class SegmentArenasTest {

    @Test
    void aStripesArenaIsMadeOnceAndFoundAfterwards() {
        SegmentArenas arenas = new SegmentArenas();
        assertThat(arenas.current()).isNull();
        Arena made = arenas.create();
        assertThat(arenas.current()).isSameAs(made);
        assertThat(arenas.create()).as("a second create finds it").isSameAs(made);
        assertThat(arenas.made()).isEqualTo(1);
        arenas.close();
        assertThat(made.scope().isAlive()).isFalse();
    }

    @Test
    void noArenaIsMadeAfterClose() {
        SegmentArenas arenas = new SegmentArenas();
        arenas.close();
        assertThatThrownBy(arenas::create).isInstanceOf(IllegalStateException.class).hasMessage("Spanheap is closed");
        assertThat(arenas.made()).isZero();
    }

    /** Threads of many stripes make their arenas while another thread closes: every arena made ends closed. */
    @Test
    void noArenaMadeWhileClosingStaysOpen() throws InterruptedException {
        for (int round = 0; round < 20; round++) {
            SegmentArenas arenas = new SegmentArenas();
            Queue<Arena> made = new ConcurrentLinkedQueue<>();
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                threads.add(Thread.ofPlatform().start(() -> {
                    awaitQuietly(start);
                    try {
                        made.add(arenas.create());
                    } catch (IllegalStateException closed) {
                        assertThat(closed).hasMessage("Spanheap is closed");
                    }
                }));
            }
            Thread closer = Thread.ofPlatform().start(() -> {
                awaitQuietly(start);
                arenas.close();
            });
            start.countDown();
            for (Thread thread : threads) {
                thread.join();
            }
            closer.join();
            assertThat(made).allSatisfy(arena -> assertThat(arena.scope().isAlive()).isFalse());
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
