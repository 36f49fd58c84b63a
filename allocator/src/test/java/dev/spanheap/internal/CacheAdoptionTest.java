package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.MemStats;
import dev.spanheap.TestThreads;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A thread that starts after another ended takes over the ended thread's cache, objects and limits
 * included, instead of making a cache and flushing the old one; the statistics, the budget and
 * {@code verify()} see one consistent heap across the hand-over.
 */
class CacheAdoptionTest {

    /** No background scavenger: its cycles flush ended threads' caches, at moments a test cannot choose. */
    private final Heap heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
            HeapConfig.DEFAULT_THREAD_CACHE_BYTES, HeapConfig.DEFAULT_TOTAL_CACHE_BYTES, false));
    private final HeapStatistics statistics = new HeapStatistics(heap);

    @AfterEach
    void close() {
        heap.close();
    }

    /** Runs {@code work} on a new platform thread until it ends; what it throws, this throws. */
    private static long onNewThread(LongSupplier work) throws InterruptedException {
        AtomicLong result = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().start(() -> {
            try {
                result.set(work.getAsLong());
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        TestThreads.join(thread);
        if (failure.get() != null) {
            throw new AssertionError("on the new thread", failure.get());
        }
        return result.get();
    }

    /** Allocates {@code count} blocks of {@code size}, frees them in order, and returns the last one freed. */
    private long allocateThenFree(int count, long size) {
        long[] blocks = new long[count];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = heap.allocate(size, 8);
        }
        for (long block : blocks) {
            heap.free(block);
        }
        return blocks[count - 1];
    }

    @Test
    void aNewThreadTakesOverTheCacheOfAnEndedOneObjectsIncluded() throws Exception {
        AtomicReference<ThreadCache> endedCache = new AtomicReference<>();
        long lastFreed = onNewThread(() -> {
            long last = allocateThenFree(40, 96);
            endedCache.set(heap.currentThreadCache());
            return last;
        });
        // (Nothing may look at the registry in between: a statistics read, say, flushes the ended
        // thread's cache, as it did before adoption.)
        AtomicLong adopter = new AtomicLong();
        long first = onNewThread(() -> {
            adopter.set(Thread.currentThread().threadId());
            long block = heap.allocate(96, 8);
            ThreadCache cache = heap.currentThreadCache();
            assertThat(cache).isSameAs(endedCache.get());
            assertThat(cache.ownerId).isEqualTo(Thread.currentThread().threadId());
            // Its fast path finds the cache under the new owner (verify checks the owner word too).
            heap.verify();
            heap.free(block);
            return block;
        });
        // The cache's stack is last in, first out: the ended thread's last free came back first.
        assertThat(first).isEqualTo(lastFreed);
        assertThat(endedCache.get().ownerId).isEqualTo(adopter.get());

        MemStats stats = statistics.snapshot();
        assertThat(stats.mallocs()).isEqualTo(41);
        assertThat(stats.frees()).isEqualTo(41);
        assertThat(stats.heapObjects()).isZero();
        heap.verify();
    }

    @Test
    void aLiveThreadsCacheIsNeverTakenAndEachThreadFindsItsOwn() throws Exception {
        // A thread that stays alive while others come and go keeps its own cache throughout.
        List<Long> mine = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            mine.add(heap.allocate(48, 8));
        }
        long heldAcross = mine.removeLast();
        heap.free(heldAcross);
        for (int round = 0; round < 20; round++) {
            onNewThread(() -> allocateThenFree(16, 48));
        }
        // This thread's cache still holds its own last free on top: no other thread took the cache.
        assertThat(heap.allocate(48, 8)).isEqualTo(heldAcross);
        heap.free(heldAcross);
        mine.forEach(heap::free);
        heap.verify();
        assertThat(statistics.snapshot().heapObjects()).isZero();
    }

    @Test
    void anAdoptedCacheGivesItsObjectsAndBudgetBackWhenItsNewThreadEnds() throws Exception {
        onNewThread(() -> allocateThenFree(64, 4096));
        assertThat(heap.budget().granted()).isPositive();
        onNewThread(() -> {
            heap.free(heap.allocate(4096, 8));
            assertThat(heap.budget().granted()).isLessThanOrEqualTo(heap.budget().totalBytes());
            return 0;
        });
        // Ended, and no thread to adopt it: reading the statistics flushes it as before.
        assertThat(statistics.snapshot().heapObjects()).isZero();
        assertThat(heap.budget().granted()).isZero();
        long[] inThreadCaches = {0};
        heap.caches().forEachCache(cache -> inThreadCaches[0] += cache.cachedBytes());
        assertThat(inThreadCaches[0]).isZero();
        heap.verify();
    }
}
