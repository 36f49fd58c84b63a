package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The hard limit ({@link Spanheap.Builder#maxHeapSize}) counts what users hold, not what the heap
 * keeps idle for them: memory that sits in a thread's cache, in the central lists or in the caches
 * of ended threads goes back to the page heap before an allocation is refused, as
 * {@code ByteBuffer.allocateDirect} collects garbage before it gives up.
 */
class HardLimitTest {

    private static final long LIMIT = 32L << 20;

    private static Spanheap heap(boolean checked) {
        return Spanheap.builder().maxHeapSize(LIMIT).profileRate(0).scavenger(false).checked(checked).build();
    }

    /**
     * A block of the whole limit, which needs every page free and in one run. A refusal becomes an
     * assertion failure: JUnit rethrows an OutOfMemoryError as unrecoverable, ending the test run.
     */
    private static MemorySegment allocateTheWholeLimit(Spanheap heap) {
        try {
            return heap.allocate(LIMIT);
        } catch (OutOfMemoryError refused) {
            throw new AssertionError("refused with nothing held: " + refused.getMessage(), refused);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void blocksKeptInTheThreadsCacheDoNotStandInTheWay(boolean checked) {
        try (Spanheap heap = heap(checked)) {
            // Freed, these stay in the thread's cache, and their classes' spans stay cut, over the reservation.
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                blocks.add(heap.allocate((i + 1) * 64L << 10));
            }
            blocks.forEach(heap::free);

            MemorySegment whole = allocateTheWholeLimit(heap);
            whole.set(ValueLayout.JAVA_LONG, LIMIT - 8, 42L);
            heap.free(whole);
            heap.verify();
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {64, 4096, 32 << 10, 256 << 10, 1 << 20})
    void blocksFreedToTheCachesAndCentralListsDoNotStandInTheWay(long size) {
        try (Spanheap heap = heap(false)) {
            List<MemorySegment> blocks = new ArrayList<>();
            for (long held = 0; held < LIMIT * 3 / 4; held += size) {
                blocks.add(heap.allocate(size));
            }
            blocks.forEach(heap::free);

            heap.free(allocateTheWholeLimit(heap));
            assertThat(heap.memStats().heapAlloc()).isZero();
            heap.verify();
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void theCacheOfAnEndedThreadDoesNotStandInTheWay(boolean virtual) throws InterruptedException {
        try (Spanheap heap = heap(false)) {
            Runnable churn = () -> {
                List<MemorySegment> blocks = new ArrayList<>();
                for (int i = 0; i < 300; i++) {
                    blocks.add(heap.allocate(48L << 10));
                }
                blocks.forEach(heap::free);
            };
            Thread thread = (virtual ? Thread.ofVirtual() : Thread.ofPlatform()).start(churn);
            thread.join();

            heap.free(allocateTheWholeLimit(heap));
            heap.verify();
        }
    }

    /**
     * Another live thread's cache is its own until it flushes it: the refusal then says that no
     * block is handed out, so what stands in the way is idle.
     */
    @Test
    void theCacheOfALiveThreadStaysAndTheRefusalSaysSo() throws Exception {
        try (Spanheap heap = heap(false)) {
            CountDownLatch cached = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(1);
            Thread keeper = Thread.ofPlatform().start(() -> {
                heap.free(heap.allocate(256 << 10));
                cached.countDown();
                try {
                    done.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                heap.flushThreadCache();
            });
            cached.await();
            try {
                assertThatThrownBy(() -> heap.allocate(LIMIT))
                        .isInstanceOf(OutOfMemoryError.class)
                        .hasMessageEndingWith("bytes are in use (0 in blocks handed out)");
            } finally {
                done.countDown();
                keeper.join();
            }
            heap.free(allocateTheWholeLimit(heap));
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void whatUsersHoldIsStillRefusedWithTheFigures(boolean checked) {
        try (Spanheap heap = heap(checked)) {
            MemorySegment held = heap.allocate(LIMIT / 2);
            assertThatThrownBy(() -> heap.allocate(LIMIT / 2 + 1))
                    .isInstanceOf(OutOfMemoryError.class)
                    .hasMessage("Spanheap cannot allocate %d bytes: the heap's limit is %d bytes and %d bytes are in use "
                            + "(%d in blocks handed out)", LIMIT / 2 + 1, LIMIT, LIMIT / 2, LIMIT / 2);
            assertThatThrownBy(() -> heap.allocate(0, LIMIT))
                    .isInstanceOf(OutOfMemoryError.class)
                    .hasMessageStartingWith("Spanheap cannot allocate 0 bytes aligned to %d: the heap's limit".formatted(LIMIT));
            heap.free(held);
            heap.verify();
        }
    }

    /**
     * An arena takes its first chunk, a small block, when it opens, so on a full heap the opening is
     * refused, as that block's allocation would be, and leaves the heap as it was.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void anArenaIsRefusedAtItsOpeningWhenTheHeapIsFull(boolean checked) {
        try (Spanheap heap = heap(checked)) {
            MemorySegment whole = allocateTheWholeLimit(heap);
            assertThatThrownBy(heap::newConfinedArena)
                    .isInstanceOf(OutOfMemoryError.class)
                    .hasMessageStartingWith("Spanheap cannot allocate 2048 bytes: the heap's limit is %d bytes".formatted(LIMIT));
            assertThatThrownBy(heap::newSharedArena)
                    .isInstanceOf(OutOfMemoryError.class)
                    .hasMessageStartingWith("Spanheap cannot allocate 2048 bytes");
            heap.verify();
            assertThat(heap.memStats().heapObjects()).isEqualTo(1);

            heap.free(whole);
            try (var arena = heap.newConfinedArena()) {
                arena.allocate(100).fill((byte) 1);
            }
            heap.verify();
            assertThat(heap.memStats().heapObjects()).isZero();
        }
    }
}
