package dev.spanheap.internal;

import dev.spanheap.TestThreads;
import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.MemStats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Threads allocating and freeing together, in the style of mimalloc's test-stress: blocks pass
 * between threads through a shared slot array, each carries a cookie written at allocation and
 * checked before its free. Bounded by iteration counts, never by time.
 */
class ConcurrencyTest {

    private static final long TOTAL_CACHE = 1 << 20;
    private final HeapConfig config = new HeapConfig(LinuxOsMemory.INSTANCE, 4L << 30,
            PageHeap.DEFAULT_COMMIT_STEP_PAGES, 256 << 10, TOTAL_CACHE, false);
    private Heap heap = new Heap(config);
    private HeapStatistics statistics = new HeapStatistics(heap);

    @AfterEach
    void close() {
        heap.close();
    }

    private static long cookie(long address, long size) {
        return address * 0x9E3779B97F4A7C15L ^ size;
    }

    private long allocateWithCookie(SplittableRandom random) {
        // Mostly small, some medium, a few large blocks so the page heap is contended too.
        int kind = random.nextInt(100);
        long size = kind < 85 ? 8 + random.nextInt(1024) : kind < 98 ? 1024 + random.nextInt(31 << 10)
                : (32 << 10) + random.nextInt(256 << 10);
        long address = heap.allocate(size, 8);
        MemorySegment block = heap.segments().segment(address, size);
        block.set(ValueLayout.JAVA_LONG, 0, cookie(address, size));
        if (size >= 16) {
            block.set(ValueLayout.JAVA_LONG_UNALIGNED, size - 8, cookie(address, size));
        }
        return address;
    }

    private void checkAndFree(long address) {
        long usable = heap.usableSize(address);
        MemorySegment block = heap.segments().segment(address, usable);
        long first = block.get(ValueLayout.JAVA_LONG, 0);
        // The size is recovered from the cookie; the last word must carry the same cookie.
        long size = first ^ (address * 0x9E3779B97F4A7C15L);
        assertThat(size).as("cookie at 0x%x", address).isBetween(8L, usable);
        if (size >= 16) {
            assertThat(block.get(ValueLayout.JAVA_LONG_UNALIGNED, size - 8)).isEqualTo(first);
        }
        heap.free(address);
    }

    @Test
    void threadsExchangeBlocksThroughSharedSlots() throws Exception {
        int threads = 4;
        int iterations = 150_000;
        AtomicLongArray slots = new AtomicLongArray(2048);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long seed = 42 + t;
            workers.add(Thread.ofPlatform().start(() -> {
                try {
                    SplittableRandom random = new SplittableRandom(seed);
                    for (int i = 0; i < iterations && failure.get() == null; i++) {
                        int slot = random.nextInt(slots.length());
                        long fresh = random.nextInt(4) == 0 ? 0 : allocateWithCookie(random);
                        long old = slots.getAndSet(slot, fresh);
                        if (old != 0) {
                            checkAndFree(old);
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            }));
        }
        for (Thread worker : workers) {
            TestThreads.join(worker);
        }
        assertThat(failure.get()).isNull();
        long remaining = 0;
        for (int i = 0; i < slots.length(); i++) {
            long address = slots.get(i);
            if (address != 0) {
                remaining++;
                checkAndFree(address);
            }
        }
        heap.verify();
        MemStats stats = statistics.snapshot();
        assertThat(stats.heapObjects()).isZero();
        assertThat(stats.frees()).isEqualTo(stats.mallocs());
        assertThat(stats.mallocs()).isGreaterThan(remaining);
        assertThat(statistics.recount()).isEqualTo(new HeapStatistics.Recount(0, 0));
        heap.releaseMemory();
        assertThat(heap.describePages()).doesNotContain("|", "L", "S");
    }

    @Test
    void producerAllocatesConsumerFrees() throws Exception {
        int blocks = 200_000;
        ConcurrentLinkedQueue<Long> queue = new ConcurrentLinkedQueue<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread producer = Thread.ofPlatform().start(() -> {
            try {
                SplittableRandom random = new SplittableRandom(7);
                for (int i = 0; i < blocks; i++) {
                    queue.add(allocateWithCookie(random));
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        });
        Thread consumer = Thread.ofPlatform().start(() -> {
            try {
                int freed = 0;
                // A producer that failed sends no more: stop rather than wait for ever.
                while (freed < blocks && failure.get() == null) {
                    Long address = queue.poll();
                    if (address == null) {
                        Thread.onSpinWait();
                        continue;
                    }
                    checkAndFree(address);
                    freed++;
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        });
        TestThreads.join(producer);
        TestThreads.join(consumer);
        assertThat(failure.get()).isNull();
        heap.verify();
        assertThat(statistics.snapshot().heapObjects()).isZero();
        heap.releaseMemory();
        assertThat(heap.describePages()).doesNotContain("L", "S");
    }

    @Test
    void tenThousandShortLivedPlatformThreadsLeaveNothingBehind() throws Exception {
        MemStats before = statistics.snapshot();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int round = 0; round < 1250; round++) {
            Thread[] batch = new Thread[8];
            for (int t = 0; t < batch.length; t++) {
                long seed = round * 8L + t;
                batch[t] = Thread.ofPlatform().start(() -> {
                    try {
                        SplittableRandom random = new SplittableRandom(seed);
                        long[] held = new long[20];
                        for (int i = 0; i < held.length; i++) {
                            held[i] = allocateWithCookie(random);
                        }
                        for (long address : held) {
                            checkAndFree(address);
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
            }
            for (Thread thread : batch) {
                TestThreads.join(thread);
            }
            assertThat(heap.budget().granted()).isLessThanOrEqualTo(TOTAL_CACHE);
        }
        assertThat(failure.get()).isNull();
        MemStats after = statistics.snapshot();
        assertThat(after.mallocs() - before.mallocs()).isEqualTo(10_000 * 20);
        assertThat(after.heapObjects()).isZero();
        heap.releaseMemory();
        assertThat(statistics.snapshot().heapInuse()).isEqualTo(before.heapInuse());
        assertThat(heap.caches().cacheCount()).isLessThanOrEqualTo(8 + 1 + 8);
        assertThat(heap.budget().granted()).isZero();
        heap.verify();
    }

    /** With no caches for virtual threads, every one of them goes through the stripes. */
    @Test
    void hundredThousandVirtualThreadsShareTheStripes() throws Exception {
        heap.close();
        heap = new Heap(config.withVirtualThreadCaches(0));
        statistics = new HeapStatistics(heap);
        int cachesBefore = heap.caches().cacheCount();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicLongArray budgetSeen = new AtomicLongArray(1);
        try (var executor = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < 100_000; t++) {
                long seed = t;
                executor.submit(() -> {
                    try {
                        SplittableRandom random = new SplittableRandom(seed);
                        long first = allocateWithCookie(random);
                        long second = allocateWithCookie(random);
                        budgetSeen.accumulateAndGet(0, heap.budget().granted(), Math::max);
                        checkAndFree(first);
                        checkAndFree(second);
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                });
            }
        }
        assertThat(failure.get()).isNull();
        assertThat(heap.caches().cacheCount()).isEqualTo(cachesBefore);
        assertThat(budgetSeen.get(0)).isLessThanOrEqualTo(TOTAL_CACHE);
        MemStats stats = statistics.snapshot();
        assertThat(stats.heapObjects()).isZero();
        assertThat(stats.mallocs()).isEqualTo(200_000);
        heap.verify();
    }

    @Test
    void endedThreadsCacheReturnsWithoutTheUserDoingAnything() throws Exception {
        Thread thread = Thread.ofPlatform().start(() -> {
            long[] held = new long[50];
            for (int i = 0; i < held.length; i++) {
                held[i] = heap.allocate(64, 8);
            }
            for (long address : held) {
                heap.free(address);
            }
        });
        TestThreads.join(thread);
        // The blocks sit in the ended thread's cache until the registry notices the thread is gone;
        // reading statistics is one of the moments it looks.
        int cachesWithThread = heap.caches().cacheCount();
        MemStats stats = statistics.snapshot();
        assertThat(stats.heapObjects()).isZero();
        assertThat(heap.budget().granted()).isZero();
        long[] inThreadCaches = {0};
        heap.caches().forEachCache(cache -> inThreadCaches[0] += cache.cachedBytes());
        assertThat(inThreadCaches[0]).isZero();
        assertThat(heap.caches().cacheCount()).isLessThanOrEqualTo(cachesWithThread);
        // From the central lists the memory goes back to the OS like any other free memory.
        heap.releaseMemory();
        assertThat(statistics.snapshot().heapInuse()).isZero();
    }
}
