package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.MemStats;
import dev.spanheap.TestThreads;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Virtual threads' caches of their own (see ThreadCaches#register): up to the limit, live virtual
 * threads each hold one and take the platform threads' paths; past it they use their carriers'
 * stripes; an ended one's cache goes to the next virtual thread that asks, or back to the central
 * lists when the registry reaps it.
 */
class VirtualThreadCachesTest {

    /** The stripes of every heap (Heap's VIRTUAL_THREAD_STRIPES). */
    private static final int STRIPES = 8;

    private Heap heap = heap(2);

    private static Heap heap(int virtualThreadCaches) {
        return new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES, 1 << 20,
                4 << 20, false).withVirtualThreadCaches(virtualThreadCaches));
    }

    @AfterEach
    void close() {
        heap.close();
    }

    /** What a virtual thread saw of its own cache after an allocation and a free. */
    private record Seen(ThreadCache cache, long threadId, boolean inSlotTable) {
    }

    /** Allocates and frees a 64 B block on the calling thread; returns its cache as the registry sees it. */
    private Seen pairAndLook() {
        heap.free(heap.allocate(64, 8));
        ThreadCache cache = heap.caches().currentCache();
        long id = Thread.currentThread().threadId();
        ThreadCache[] table = heap.caches().slotTable();
        return new Seen(cache, id, cache != null && table[(int) id & (table.length - 1)] == cache);
    }

    /** Runs {@link #pairAndLook} on a new virtual thread, which ends before this returns. */
    private Seen onNewVirtualThread() throws InterruptedException {
        AtomicReference<Seen> seen = new AtomicReference<>();
        TestThreads.join(Thread.ofVirtual().start(() -> seen.set(pairAndLook())));
        return seen.get();
    }

    /**
     * Starts a virtual thread that allocates (taking a cache if it gets one), hands {@code held} its
     * cache or null, counts {@code holding} down and stays alive until {@code release}.
     */
    private Thread holder(CountDownLatch holding, CountDownLatch release, Consumer<ThreadCache> held) {
        return Thread.ofVirtual().start(() -> {
            held.accept(pairAndLook().cache());
            holding.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    /** Runs {@code work} on a new virtual thread and waits for it; what it throws fails the test. */
    private static void onVirtualThread(Runnable work) throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        TestThreads.join(Thread.ofVirtual().start(() -> {
            try {
                work.run();
            } catch (Throwable e) {
                thrown.set(e);
            }
        }));
        assertThat(thrown.get()).isNull();
    }

    @Test
    void aVirtualThreadGetsACacheOfItsOwnInTheSlotTable() throws InterruptedException {
        Seen seen = onNewVirtualThread();
        assertThat(seen.cache()).isNotNull();
        assertThat(seen.cache().ownerId).isEqualTo(seen.threadId());
        assertThat(seen.inSlotTable()).as("found by the fast paths").isTrue();
    }

    @Test
    void theNextVirtualThreadTakesOverAnEndedOnesCache() throws InterruptedException {
        Seen first = onNewVirtualThread();
        Seen second = onNewVirtualThread();
        assertThat(second.cache()).isSameAs(first.cache());
        assertThat(second.cache().ownerId).isEqualTo(second.threadId()).isNotEqualTo(first.threadId());
        assertThat(second.inSlotTable()).isTrue();
        ThreadCache[] table = heap.caches().slotTable();
        assertThat(table[(int) first.threadId() & (table.length - 1)])
                .as("the ended thread's slot, free for another thread").isNull();
        assertThat(heap.caches().cacheCount()).as("the stripes; the ended thread's cache reaped").isEqualTo(STRIPES);
    }

    @Test
    void pastTheLimitAVirtualThreadUsesTheStripesForItsLife() throws Exception {
        CountDownLatch holding = new CountDownLatch(2);
        CountDownLatch release = new CountDownLatch(1);
        List<Thread> holders = new ArrayList<>();
        List<ThreadCache> held = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            holders.add(holder(holding, release, cache -> {
                synchronized (held) {
                    held.add(cache);
                }
            }));
        }
        assertThat(holding.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(held).doesNotContainNull();
        AtomicReference<Seen> later = new AtomicReference<>();
        CountDownLatch looked = new CountDownLatch(1);
        AtomicReference<ThreadCache> afterOthersEnded = new AtomicReference<>();
        CountDownLatch othersEnded = new CountDownLatch(1);
        Thread refused = Thread.ofVirtual().start(() -> {
            later.set(pairAndLook());
            looked.countDown();
            try {
                othersEnded.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            heap.free(heap.allocate(64, 8));
            afterOthersEnded.set(heap.caches().currentCache());
        });
        assertThat(looked.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(later.get().cache()).as("two virtual threads hold the two caches").isNull();
        release.countDown();
        TestThreads.join(holders.toArray(Thread[]::new));
        othersEnded.countDown();
        TestThreads.join(refused);
        assertThat(afterOthersEnded.get()).as("refused once, for the thread's life").isNull();
        assertThat(onNewVirtualThread().cache()).as("a new thread takes over an ended one's").isIn(held);
        MemStats stats = new HeapStatistics(heap).snapshot();
        assertThat(stats.heapObjects()).isZero();
        assertThat(stats.mallocs()).isEqualTo(5);
        heap.verify();
    }

    /**
     * At the limit, a virtual thread does not take over an ended platform thread's cache either:
     * that would make one more virtual thread with a cache than the limit allows.
     */
    @Test
    void atTheLimitAnEndedPlatformThreadsCacheIsNotTakenOver() throws Exception {
        heap.close();
        heap = heap(1);
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<ThreadCache> held = new AtomicReference<>();
        Thread holder = holder(holding, release, held::set);
        try {
            assertThat(holding.await(60, TimeUnit.SECONDS)).isTrue();
            assertThat(held.get()).isNotNull();
            TestThreads.join(Thread.ofPlatform().start(() -> heap.free(heap.allocate(64, 8))));
            assertThat(onNewVirtualThread().cache()).isNull();
            assertThat(heap.caches().cacheCount()).as("the stripes and the holder's cache").isEqualTo(STRIPES + 1);
        } finally {
            release.countDown();
            TestThreads.join(holder);
        }
        assertThat(new HeapStatistics(heap).snapshot().heapObjects()).isZero();
        heap.verify();
    }

    /**
     * A virtual thread whose slot a live thread holds gets no cache, and the slot table does not
     * grow for it: virtual threads come and go by the thousand, and each collision would double
     * the table until it reached its largest size (see ThreadSlots).
     */
    @Test
    void aVirtualThreadWhoseSlotALiveThreadHoldsUsesTheStripes() throws InterruptedException {
        heap.free(heap.allocate(64, 8));
        long mine = Thread.currentThread().threadId();
        int length = heap.caches().slotTable().length;
        AtomicReference<ThreadCache> seen = new AtomicReference<>();
        Runnable pair = () -> seen.set(pairAndLook().cache());
        Thread thread;
        do {
            // An unstarted thread has its id already; those not started are dropped.
            thread = Thread.ofVirtual().unstarted(pair);
        } while (((thread.threadId() ^ mine) & (length - 1)) != 0);
        thread.start();
        TestThreads.join(thread);
        assertThat(seen.get()).isNull();
        assertThat(heap.caches().slotTable()).hasSize(length);
        assertThat(onNewVirtualThread().cache()).as("the next one, whose slot is free").isNotNull();
    }

    /**
     * While the limit's caches are held, virtual threads without one go to their stripes without
     * asking the registry (Heap.allocateUnslotted reads virtualCachesFull): the flag is set when
     * the last cache is given, stays set after a holder ends until the registry reaps it, and is
     * clear again after.
     */
    @Test
    void theLimitIsReachedUntilAnEndedHoldersCacheIsReaped() throws InterruptedException {
        heap.close();
        heap = heap(1);
        assertThat(heap.caches().virtualCachesFull()).isFalse();
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread holder = holder(holding, release, cache -> { });
        assertThat(holding.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(heap.caches().virtualCachesFull()).isTrue();
        release.countDown();
        TestThreads.join(holder);
        assertThat(heap.caches().virtualCachesFull()).as("not reaped yet").isTrue();
        heap.caches().reap();
        assertThat(heap.caches().virtualCachesFull()).isFalse();
        Heap none = heap(0);
        try {
            assertThat(none.caches().virtualCachesFull()).as("a limit of 0").isTrue();
        } finally {
            none.close();
        }
    }

    /** A flush on a virtual thread empties its own cache, and does not give one that has none a cache. */
    @Test
    void aFlushEmptiesAVirtualThreadsCacheAndMakesNone() throws InterruptedException {
        AtomicReference<Long> cachedAfterFlush = new AtomicReference<>();
        onVirtualThread(() -> {
            heap.flushThreadCache();
            assertThat(heap.caches().cacheCount()).as("no cache made to be flushed").isEqualTo(STRIPES);
            long[] blocks = new long[20];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = heap.allocate(64, 8);
            }
            for (long block : blocks) {
                heap.free(block);
            }
            ThreadCache own = heap.caches().currentCache();
            assertThat(own.cachedBytes()).isPositive();
            heap.flushThreadCache();
            cachedAfterFlush.set(own.cachedBytes());
        });
        assertThat(cachedAfterFlush.get()).isZero();
    }

    /**
     * Each kind of thread takes over its own kind's caches: a virtual thread's registration scans
     * the virtual threads' registrations alone (at most the limit's number), not every platform
     * thread's, and an ended platform thread's cache waits for the next platform thread.
     */
    @Test
    void virtualAndPlatformThreadsTakeOverTheirOwnKindsCaches() throws InterruptedException {
        AtomicReference<ThreadCache> platform = new AtomicReference<>();
        TestThreads.join(Thread.ofPlatform().start(() -> platform.set(pairAndLook().cache())));
        ThreadCache virtual = onNewVirtualThread().cache();
        assertThat(virtual).isNotNull().isNotSameAs(platform.get());
        assertThat(onNewVirtualThread().cache()).isSameAs(virtual);
        AtomicReference<ThreadCache> nextPlatform = new AtomicReference<>();
        TestThreads.join(Thread.ofPlatform().start(() -> nextPlatform.set(pairAndLook().cache())));
        assertThat(nextPlatform.get()).isSameAs(platform.get());
    }

    @Test
    void anEndedVirtualThreadsCacheReturnsItsObjectsWhenReaped() throws InterruptedException {
        heap.close();
        heap = heap(16);
        onVirtualThread(() -> {
            long[] blocks = new long[50];
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = heap.allocate(64, 8);
            }
            for (long block : blocks) {
                heap.free(block);
            }
            assertThat(heap.caches().currentCache().cachedBytes()).isPositive();
        });
        // Reading statistics reaps the ended thread's cache into the central lists.
        assertThat(new HeapStatistics(heap).snapshot().heapObjects()).isZero();
        assertThat(heap.caches().cacheCount()).isEqualTo(STRIPES);
        long[] cached = {0};
        heap.caches().forEachCache(cache -> cached[0] += cache.cachedBytes());
        assertThat(cached[0]).isZero();
        assertThat(heap.budget().granted()).isZero();
        heap.releaseMemory();
        assertThat(new HeapStatistics(heap).snapshot().heapInuse()).isZero();
    }

    /**
     * Batches of 16 virtual threads, all alive at once, each allocating and freeing blocks that
     * pass between them: in each batch exactly the limit's number hold a cache (the ended batch's,
     * taken over), the others use the stripes, and the heap's census stays exact.
     */
    @Test
    void batchesOfLiveVirtualThreadsHoldExactlyTheLimitOfCaches() throws Exception {
        heap.close();
        heap = heap(4);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        java.util.concurrent.atomic.AtomicLongArray shared = new java.util.concurrent.atomic.AtomicLongArray(64);
        long mallocs = 0;
        for (int batch = 0; batch < 200; batch++) {
            AtomicInteger withCache = new AtomicInteger();
            CountDownLatch registered = new CountDownLatch(16);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                long seed = batch * 16L + t;
                threads.add(Thread.ofVirtual().start(() -> {
                    try {
                        if (pairAndLook().cache() != null) {
                            withCache.incrementAndGet();
                        }
                        registered.countDown();
                        registered.await();
                        SplittableRandom random = new SplittableRandom(seed);
                        for (int i = 0; i < 200; i++) {
                            long fresh = heap.allocate(8 + random.nextInt(40_000), 8);
                            long old = shared.getAndSet(random.nextInt(shared.length()), fresh);
                            if (old != 0) {
                                heap.free(old);
                            }
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            TestThreads.join(threads.toArray(Thread[]::new));
            assertThat(failure.get()).isNull();
            assertThat(withCache.get()).as("batch %d", batch).isEqualTo(4);
            mallocs += 16 * 201;
        }
        for (int i = 0; i < shared.length(); i++) {
            if (shared.get(i) != 0) {
                heap.free(shared.get(i));
            }
        }
        MemStats stats = new HeapStatistics(heap).snapshot();
        assertThat(stats.mallocs()).isEqualTo(mallocs);
        assertThat(stats.heapObjects()).isZero();
        assertThat(heap.caches().cacheCount()).as("the stripes and this thread's cache").isEqualTo(STRIPES + 1);
        heap.verify();
    }

    @Test
    void noCachesForVirtualThreadsWithALimitOfZero() throws InterruptedException {
        heap.close();
        heap = heap(0);
        assertThat(onNewVirtualThread().cache()).isNull();
        assertThat(heap.caches().cacheCount()).isEqualTo(STRIPES);
        assertThat(new HeapStatistics(heap).snapshot().mallocs()).isEqualTo(1);
    }
}
