package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.TestThreads;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An {@link OutOfMemoryError} (a full Java heap) that strikes while the heap gives memory back: the
 * release puts every run back as it found it, a later release neither waits for ever nor fails, and
 * the background scavenger survives it. The error is injected where a full Java heap would throw
 * it: in the OS layer's {@code madvise}, whose downcall allocates its call state.
 */
class OutOfMemoryTest {

    private static final long MIB = 1 << 20;
    private static final long SECOND = 1_000_000_000L;

    private final List<Heap> heaps = new ArrayList<>();

    @AfterEach
    void closeHeaps() {
        heaps.forEach(Heap::close);
    }

    /** The real OS layer, except that the first {@code failures} decommits throw OutOfMemoryError. */
    private static final class FullJavaHeapAtDecommit extends ForwardingOsMemory {
        private final AtomicInteger failuresLeft;
        private final AtomicInteger decommitsDone = new AtomicInteger();

        FullJavaHeapAtDecommit(int failures) {
            this.failuresLeft = new AtomicInteger(failures);
        }

        @Override
        public void decommit(long address, long bytes) {
            if (failuresLeft.getAndDecrement() > 0) {
                throw new OutOfMemoryError("Java heap space (injected)");
            }
            super.decommit(address, bytes);
            decommitsDone.incrementAndGet();
        }
    }

    private Heap heap(OsMemory os, HeapConfig.Scavenging scavenging) {
        // Threads cache nothing, so freed blocks reach the page heap at once.
        Heap heap = new Heap(new HeapConfig(os, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES, 0, 4 << 20, false,
                scavenging));
        heaps.add(heap);
        return heap;
    }

    private static void allocateAndFree(Heap heap, int blocks, long size) {
        List<Long> addresses = new ArrayList<>();
        for (int i = 0; i < blocks; i++) {
            long address = heap.allocate(size, 1);
            heap.segments().segment(address, size).fill((byte) 1);
            addresses.add(address);
        }
        addresses.forEach(heap::free);
    }

    @Test
    void aReleaseInterruptedByAFullJavaHeapPutsItsRunsBack() throws Exception {
        FullJavaHeapAtDecommit os = new FullJavaHeapAtDecommit(1);
        Heap heap = heap(os, new HeapConfig.Scavenging(false, 103, 0, SECOND, () -> 0L, nanos -> { }));
        allocateAndFree(heap, 16, 2 * MIB);

        assertThatThrownBy(heap::releaseMemory).isInstanceOf(OutOfMemoryError.class);
        heap.verify();

        // Before the fix the runs stayed RELEASING and the next release waited for this one for ever.
        AtomicLong released = new AtomicLong(-1);
        Thread again = Thread.ofPlatform().start(() -> released.set(heap.releaseMemory()));
        TestThreads.join(again);
        assertThat(released.get()).isGreaterThanOrEqualTo(32 * MIB);
        assertThat(os.decommitsDone.get()).isPositive();
        heap.verify();
        assertThat(heap.allocate(MIB, 1)).isNotZero();
    }

    @Test
    void theBackgroundScavengerSurvivesAFullJavaHeap() throws Exception {
        FullJavaHeapAtDecommit os = new FullJavaHeapAtDecommit(1);
        AtomicLong clock = new AtomicLong(1_000 * SECOND);
        CountDownLatch threeCycles = new CountDownLatch(3);
        HeapConfig.Scavenging scavenging = new HeapConfig.Scavenging(false, 103, 0, SECOND,
                () -> clock.addAndGet(SECOND), nanos -> {
                    threeCycles.countDown();
                    if (threeCycles.getCount() == 0) {
                        throw new InterruptedException("enough");
                    }
                });
        Heap heap = heap(os, scavenging);
        allocateAndFree(heap, 16, 2 * MIB);
        heap.scavenger().start(scavenging.sleeper());

        assertThat(threeCycles.await(TestThreads.BOUND.toSeconds(), TimeUnit.SECONDS))
                .as("three scavenger cycles, the first of which met a full Java heap").isTrue();
        heap.scavenger().stop();
        // The cycle after the failed one released the pages.
        assertThat(os.decommitsDone.get()).isPositive();
        heap.verify();
    }
}
