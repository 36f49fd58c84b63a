package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * No allocating thread waits behind another thread's system call: with an OS layer whose decommit
 * (or commit) blocks until the test lets it go, a thread releasing (or growing) memory is stuck
 * inside the call while another thread allocates and frees large blocks, which need the page heap,
 * to the end.
 */
class ReleaseOutsideLockTest {

    /**
     * Starts a thread that allocates, writes and frees 200 blocks of 64 KiB to 2 MiB and as many
     * small ones, all of which fit the heap's free runs; a failure lands in {@code failure}.
     */
    private static Thread allocateAndFreeBlocks(Heap heap, AtomicReference<Throwable> failure) {
        return Thread.ofPlatform().start(() -> {
            try {
                for (int i = 0; i < 200; i++) {
                    long size = (64L << 10) << (i % 6);
                    long address = heap.allocate(size, 1);
                    RawMemory.ALL.set(java.lang.foreign.ValueLayout.JAVA_LONG, address + size - 8, i);
                    heap.free(address);
                    heap.free(heap.allocate(100, 1));
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        });
    }

    @Test
    void largeAllocationsProceedWhileAnotherThreadIsInsideMadvise() throws Exception {
        BlockingOsMemory os = new BlockingOsMemory(false, true);
        Heap heap = new Heap(new HeapConfig(os, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES, 1 << 20, 4 << 20, false,
                HeapConfig.Scavenging.manual(() -> 0L)));
        try {
            long freed = heap.allocate(8 << 20, 1);
            RawMemory.ALL.asSlice(freed, 8 << 20).fill((byte) 1);
            heap.free(freed);
            AtomicReference<Throwable> releaseFailure = new AtomicReference<>();
            Thread releasing = Thread.ofPlatform().start(() -> {
                try {
                    heap.releaseMemory();
                } catch (Throwable e) {
                    releaseFailure.set(e);
                }
            });
            assertThat(os.entered.await(1, TimeUnit.MINUTES)).as("the release reached madvise").isTrue();

            AtomicReference<Throwable> allocationFailure = new AtomicReference<>();
            Thread allocating = allocateAndFreeBlocks(heap, allocationFailure);
            assertThat(allocating.join(Duration.ofMinutes(1)))
                    .as("large allocations finished while the other thread was inside madvise").isTrue();
            assertThat(allocationFailure.get()).isNull();
            assertThat(releasing.isAlive()).as("the release was still inside madvise all along").isTrue();
            heap.verify();

            os.proceed.countDown();
            assertThat(releasing.join(Duration.ofMinutes(1))).isTrue();
            assertThat(releaseFailure.get()).isNull();
            heap.verify();
            assertThat(heap.releaseMemory()).isNotNegative();
            heap.verify();
        } finally {
            os.proceed.countDown();
            heap.close();
        }
    }

    /**
     * Releases racing allocations and frees of every size: runs taken out for their madvise come
     * back merged with neighbours freed meanwhile, and every structure and counter stays exact.
     */
    @Test
    void releasesRacingAllocationsKeepTheHeapConsistent() throws Exception {
        Heap heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, 64, 1 << 20, 4 << 20, false,
                HeapConfig.Scavenging.manual(() -> 0L)));
        try {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            Thread releasing = Thread.ofPlatform().start(() -> {
                try {
                    while (!done.get()) {
                        heap.pageHeap().release(1 << 20);
                        heap.releaseMemory();
                    }
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            Thread[] workers = new Thread[2];
            for (int w = 0; w < workers.length; w++) {
                long seed = w;
                workers[w] = Thread.ofPlatform().start(() -> {
                    java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
                    long[] live = new long[64];
                    try {
                        for (int i = 0; i < 20_000; i++) {
                            int slot = random.nextInt(live.length);
                            if (live[slot] != 0) {
                                heap.free(live[slot]);
                            }
                            long size = random.nextInt(4) == 0 ? random.nextLong(32 << 10, 3 << 20) : random.nextLong(1, 4096);
                            live[slot] = heap.allocate(size, 1);
                            RawMemory.ALL.set(java.lang.foreign.ValueLayout.JAVA_BYTE, live[slot] + size - 1, (byte) 1);
                        }
                        for (long address : live) {
                            if (address != 0) {
                                heap.free(address);
                            }
                        }
                        heap.flushThreadCache();
                    } catch (Throwable e) {
                        failure.set(e);
                    }
                });
            }
            for (Thread worker : workers) {
                assertThat(worker.join(Duration.ofMinutes(2))).isTrue();
            }
            done.set(true);
            assertThat(releasing.join(Duration.ofMinutes(1))).isTrue();
            assertThat(failure.get()).isNull();
            heap.verify();
            heap.releaseMemory();
            heap.verify();
            PageHeap.PageCounts counts = heap.pageHeap().counts();
            assertThat(counts.inUse()).as("nothing left in use").isZero();
            assertThat(counts.releasedFree()).as("releaseMemory released every free page").isEqualTo(counts.free());
        } finally {
            heap.close();
        }
    }

    @Test
    void allocationsThatFitProceedWhileAnotherThreadIsInsideTheGrowthsMmap() throws Exception {
        BlockingOsMemory os = new BlockingOsMemory(true, false);
        Heap heap = new Heap(new HeapConfig(os, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES, 1 << 20, 4 << 20, false,
                HeapConfig.Scavenging.manual(() -> 0L)));
        try {
            heap.free(heap.allocate(16 << 20, 1));
            os.armed = true;
            AtomicReference<Throwable> growthFailure = new AtomicReference<>();
            long[] grown = new long[1];
            Thread growing = Thread.ofPlatform().start(() -> {
                try {
                    grown[0] = heap.allocate(64 << 20, 1);
                } catch (Throwable e) {
                    growthFailure.set(e);
                }
            });
            assertThat(os.entered.await(1, TimeUnit.MINUTES)).as("the growth reached mmap").isTrue();

            AtomicReference<Throwable> allocationFailure = new AtomicReference<>();
            Thread allocating = allocateAndFreeBlocks(heap, allocationFailure);
            assertThat(allocating.join(Duration.ofMinutes(1)))
                    .as("allocations that fit finished while the other thread was inside mmap").isTrue();
            assertThat(allocationFailure.get()).isNull();
            assertThat(growing.isAlive()).as("the growth was still inside mmap all along").isTrue();
            heap.verify();

            os.proceed.countDown();
            assertThat(growing.join(Duration.ofMinutes(1))).isTrue();
            assertThat(growthFailure.get()).isNull();
            RawMemory.ALL.set(java.lang.foreign.ValueLayout.JAVA_LONG, grown[0] + (64 << 20) - 8, 1);
            heap.free(grown[0]);
            heap.verify();
        } finally {
            os.proceed.countDown();
            heap.close();
        }
    }

    /**
     * An unstarted virtual thread running {@code first}, and an unstarted platform thread that then
     * allocates and frees small blocks (reporting a failure in {@code secondFailure}) and locks every
     * stripe of {@code heap}'s caches in turn, as statistics and {@code verify()} do. Virtual threads
     * use their carrier's stripe, and one inside an OS call keeps its carrier, so no second virtual
     * thread shares its stripe then; a stripe it held would stop the second thread here instead.
     */
    private static Thread[] withEveryStripe(Heap heap, Runnable first, AtomicReference<Throwable> secondFailure) {
        Runnable small = smallPairs(heap, 100, secondFailure);
        return new Thread[] {Thread.ofVirtual().unstarted(first), Thread.ofPlatform().unstarted(() -> {
            small.run();
            try {
                heap.caches().forEachCache(cache -> { });
            } catch (Throwable e) {
                secondFailure.set(e);
            }
        })};
    }

    /** A task that allocates and frees 100 small blocks, a failure landing in {@code failure}. */
    private static Runnable smallPairs(Heap heap, long size, AtomicReference<Throwable> failure) {
        return () -> {
            try {
                for (int i = 0; i < 100; i++) {
                    heap.free(heap.allocate(size, 1));
                }
            } catch (Throwable e) {
                failure.set(e);
            }
        };
    }

    /**
     * Uses up every committed free page with one large block, so that the next span the heap needs
     * makes it grow; returns that block.
     */
    private static long fillCommittedPages(Heap heap) {
        int free = heap.pageHeap().counts().free();
        return free == 0 ? 0 : heap.allocate((long) free * Pages.SIZE, 1);
    }

    /** Makes two unstarted threads on {@code heap}, each reporting a failure in its reference. */
    private interface ThreadPair {
        Thread[] unstarted(Heap heap, AtomicReference<Throwable> firstFailure, AtomicReference<Throwable> secondFailure);
    }

    /**
     * With every committed page in use, the first thread's allocation grows the heap and is held
     * inside the growth's {@code mmap}; then pages are freed that the second thread's allocations
     * fit in, and the second must finish while the first is still inside the call.
     */
    private static void secondProceedsWhileFirstGrowsTheHeap(ThreadPair pair) throws Exception {
        BlockingOsMemory os = new BlockingOsMemory(true, false);
        // No caches of their own for virtual threads: theirs go through the stripes.
        Heap heap = new Heap(new HeapConfig(os, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES, 1 << 20, 4 << 20, false,
                HeapConfig.Scavenging.manual(() -> 0L)).withVirtualThreadCaches(0));
        try {
            long room = heap.allocate(2 << 20, 1);
            long filler = fillCommittedPages(heap);
            AtomicReference<Throwable> firstFailure = new AtomicReference<>();
            AtomicReference<Throwable> secondFailure = new AtomicReference<>();
            Thread[] threads = pair.unstarted(heap, firstFailure, secondFailure);
            os.armed = true;
            threads[0].start();
            assertThat(os.entered.await(1, TimeUnit.MINUTES)).as("the first thread's growth reached mmap").isTrue();

            heap.free(room);
            threads[1].start();
            assertThat(threads[1].join(Duration.ofMinutes(1)))
                    .as("the second thread allocated while the first was inside mmap").isTrue();
            assertThat(secondFailure.get()).isNull();
            assertThat(threads[0].isAlive()).as("the first was still inside mmap all along").isTrue();

            os.proceed.countDown();
            assertThat(threads[0].join(Duration.ofMinutes(1))).isTrue();
            assertThat(firstFailure.get()).isNull();
            heap.free(filler);
            heap.verify();
        } finally {
            os.proceed.countDown();
            heap.close();
        }
    }

    @Test
    void aClassesOtherThreadsProceedWhileOneCutsASpanThroughMmap() throws Exception {
        // Both take 16 KiB objects: the second needs the class's central list while the first cuts a span.
        secondProceedsWhileFirstGrowsTheHeap((heap, first, second) -> new Thread[] {
                Thread.ofPlatform().unstarted(smallPairs(heap, 16 << 10, first)),
                Thread.ofPlatform().unstarted(smallPairs(heap, 16 << 10, second))});
    }

    @Test
    void aStripeIsNotHeldWhileOneOfItsVirtualThreadsGrowsTheHeap() throws Exception {
        secondProceedsWhileFirstGrowsTheHeap((heap, first, second) ->
                withEveryStripe(heap, smallPairs(heap, 16 << 10, first), second));
    }

    @Test
    void aStripeIsNotHeldWhileOneOfItsVirtualThreadsReleasesAfterALargeFree() throws Exception {
        BlockingOsMemory os = new BlockingOsMemory(false, false);
        java.util.concurrent.atomic.AtomicLong now = new java.util.concurrent.atomic.AtomicLong();
        // No cache budget: every free of a 512 KiB block sends its span to the page heap at once.
        Heap heap = new Heap(new HeapConfig(os, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES, 0, 4 << 20, false,
                HeapConfig.Scavenging.manual(now::get)).withVirtualThreadCaches(0));
        try {
            long size = 512 << 10;
            CountDownLatch steady = new CountDownLatch(1);
            CountDownLatch go = new CountDownLatch(1);
            AtomicReference<Throwable> freeFailure = new AtomicReference<>();
            AtomicReference<Throwable> otherFailure = new AtomicReference<>();
            Runnable frees = () -> {
                try {
                    // 20 blocks stay in use, 20 are freed; a cycle lets the freed pages go; then a
                    // burst of 20 more, freed again: past the goal, the frees release on this thread.
                    long[] blocks = new long[40];
                    for (int i = 0; i < blocks.length; i++) {
                        blocks[i] = heap.allocate(size, 1);
                        RawMemory.ALL.asSlice(blocks[i], size).fill((byte) 1);
                    }
                    for (int i = 20; i < blocks.length; i++) {
                        heap.free(blocks[i]);
                    }
                    steady.countDown();
                    go.await();
                    for (int i = 20; i < blocks.length; i++) {
                        blocks[i] = heap.allocate(size, 1);
                        RawMemory.ALL.asSlice(blocks[i], size).fill((byte) 1);
                    }
                    for (long block : blocks) {
                        heap.free(block);
                    }
                } catch (Throwable e) {
                    freeFailure.set(e);
                }
            };
            Thread[] stripeMates = withEveryStripe(heap, frees, otherFailure);
            stripeMates[0].start();
            assertThat(steady.await(1, TimeUnit.MINUTES)).isTrue();
            // Scavenger cycles past the window release the freed pages and set the goal that the
            // inline release after a large free works to.
            now.addAndGet(2_000_000_000L);
            while (heap.scavenger().cycle() > 0) {
                now.addAndGet(1_000_000);
            }
            os.armed = true;
            go.countDown();
            assertThat(os.entered.await(1, TimeUnit.MINUTES)).as("a large free's release reached madvise").isTrue();

            stripeMates[1].start();
            assertThat(stripeMates[1].join(Duration.ofMinutes(1)))
                    .as("another thread allocated and locked every stripe while the virtual thread was inside madvise")
                    .isTrue();
            assertThat(otherFailure.get()).isNull();
            assertThat(stripeMates[0].isAlive()).as("the other was still inside madvise all along").isTrue();

            os.proceed.countDown();
            assertThat(stripeMates[0].join(Duration.ofMinutes(1))).isTrue();
            assertThat(freeFailure.get()).isNull();
            heap.verify();
        } finally {
            os.proceed.countDown();
            heap.close();
        }
    }
}
