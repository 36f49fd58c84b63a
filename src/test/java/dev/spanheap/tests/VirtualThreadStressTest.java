package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Many more virtual threads than carriers (64 on this machine's two), 16 of them with caches of
 * their own (the builder's default) and the rest sharing the heap's stripes: each allocates blocks of 1 B to 3 MiB, tags their first and last words, frees them, and hands
 * some to the others to free. Every block must keep its tags until its free, the heap must verify,
 * and nothing may be left in use. A stripe lock whose waiters only yielded their carriers, while
 * its holder was parked on a central list's lock, slowed such a round from a third of a second to
 * over 100 s; the timeout below is a guard on progress, far above any normal run.
 */
class VirtualThreadStressTest {

    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final int THREADS = 64;
    private static final int STEPS = 5000;

    /** A block and the tag written at its ends. */
    private record Block(long address, long size, long tag) {
        void write() {
            if (size >= 8) {
                ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, address, tag);
            }
            if (size >= 16) {
                ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, address + size - 8, tag);
            }
        }

        void check() {
            if (size >= 8) {
                assertThat(ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, address)).as("first word of %x", address).isEqualTo(tag);
            }
            if (size >= 16) {
                assertThat(ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, address + size - 8)).as("last word of %x", address)
                        .isEqualTo(tag);
            }
        }
    }

    @ParameterizedTest(name = "profileRate {0}, checked {1}")
    @CsvSource({"16384, false", "0, false", "524288, true"})
    void manyVirtualThreadsShareTheStripesWithoutLosingABlock(long profileRate, boolean checked) throws Exception {
        try (Spanheap heap = Spanheap.builder().profileRate(profileRate).checked(checked).build()) {
            ConcurrentLinkedQueue<Block> handedOver = new ConcurrentLinkedQueue<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                SplittableRandom random = new SplittableRandom(1000L * profileRate + t);
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        run(heap, random, handedOver);
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            for (Thread thread : threads) {
                assertThat(thread.join(Duration.ofMinutes(2))).as("virtual thread finished").isTrue();
            }
            assertThat(failure.get()).isNull();
            for (Block block; (block = handedOver.poll()) != null; ) {
                block.check();
                heap.free(block.address());
            }
            heap.verify();
            assertThat(heap.memStats().heapObjects()).isZero();
        }
    }

    private static void run(Spanheap heap, SplittableRandom random, ConcurrentLinkedQueue<Block> handedOver) {
        ArrayDeque<Block> mine = new ArrayDeque<>();
        for (int step = 0; step < STEPS; step++) {
            int op = mine.size() > 64 ? 6 : random.nextInt(10);
            if (op < 5) {
                long size = random.nextInt(64) == 0 ? 1 + random.nextInt(3 << 20)
                        : 1 + random.nextInt(random.nextBoolean() ? 64 : 70_000);
                Block block = new Block(heap.malloc(size), size, random.nextLong());
                block.write();
                mine.add(block);
            } else if (op < 8 && !mine.isEmpty()) {
                Block block = mine.poll();
                block.check();
                heap.free(block.address());
            } else if (op < 9 && !mine.isEmpty()) {
                handedOver.add(mine.poll());
            } else {
                Block block = handedOver.poll();
                if (block != null) {
                    block.check();
                    heap.free(block.address());
                }
            }
            if ((step & 255) == 0) {
                Thread.yield();
            }
        }
        for (Block block : mine) {
            block.check();
            heap.free(block.address());
        }
    }
}
