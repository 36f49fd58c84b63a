package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * How deep a thread cache's classes may grow, that a round of frees stays in the cache, how much
 * of the budget one cache may take, and where a stripe's late batch goes.
 */
class ThreadCacheTest {

    /** No heap profile: a sampled allocation would not come from the cache whose counts this test pins. */
    private final Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));

    @AfterEach
    void close() {
        heap.close();
    }

    @Test
    void classesUpToTwoKibKeepFourBatchesLargerOnesSixteen() {
        assertThat(ThreadCache.MAX_DEPTH[SizeClassLookup.sizeClassOf(16)]).isEqualTo(4 * 32);
        assertThat(ThreadCache.MAX_DEPTH[SizeClassLookup.sizeClassOf(2048)]).isEqualTo(4 * 32);
        // 4 KiB objects move 16 at a time; 32 KiB ones 2 at a time.
        assertThat(ThreadCache.MAX_DEPTH[SizeClassLookup.sizeClassOf(4096)]).isEqualTo(256);
        assertThat(ThreadCache.MAX_DEPTH[SizeClassLookup.sizeClassOf(32768)]).isEqualTo(16 * 2);
    }

    @Test
    void aRoundOf160FourKibBlocksFitsInTheCache() {
        int c = SizeClassLookup.sizeClassOf(4096);
        long[] blocks = new long[160];
        ThreadCache cache = heap.currentThreadCache();
        // Slow start: the limit grows with each round's misses until the whole round fits.
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = heap.allocate(cache, 4096, 1);
            }
            for (long block : blocks) {
                heap.free(cache, block);
            }
        }
        int depth = cache.depth(c);
        assertThat(depth).isGreaterThanOrEqualTo(blocks.length);
        long mallocsBefore = cache.mallocs(c);
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = heap.allocate(cache, 4096, 1);
        }
        // Every block of the round came from the cache, none from the central list.
        assertThat(cache.depth(c)).isEqualTo(depth - blocks.length);
        assertThat(cache.mallocs(c) - mallocsBefore).isEqualTo(blocks.length);
        for (long block : blocks) {
            heap.free(cache, block);
        }
        cache.verify(heap.freeMarks());
    }

    /** One block of each size, allocated and freed in turn, {@code rounds} times. */
    private static void largeRounds(Heap heap, ThreadCache cache, long[] sizes, int rounds) {
        for (int round = 0; round < rounds; round++) {
            for (long size : sizes) {
                heap.free(cache, heap.allocate(cache, size, 1));
            }
        }
    }

    /** The sizes of the classes from 64 KiB to 1 MiB: 33 of them, 11 MiB together. */
    private static long[] largeSizes() {
        return java.util.Arrays.stream(SizeClasses.SIZE).filter(size -> size >= 64 << 10 && size <= 1 << 20)
                .asLongStream().toArray();
    }

    /** A cache's {@code count} summed over {@code classes}. */
    private static long total(int[] classes, java.util.function.IntToLongFunction count) {
        long sum = 0;
        for (int c : classes) {
            sum += count.applyAsLong(c);
        }
        return sum;
    }

    @Test
    void aLoneThreadKeepsOneBlockOfEachLargeClassItUses() {
        long[] sizes = largeSizes();
        ThreadCache cache = heap.currentThreadCache();
        int[] classes = java.util.Arrays.stream(sizes).mapToInt(SizeClassLookup::sizeClassOf).distinct().toArray();
        assertThat(classes).hasSize(sizes.length);
        largeRounds(heap, cache, sizes, 4);
        long mallocsBefore = total(classes, cache::mallocs);
        long receivedBefore = total(classes, cache::received);
        // One block of each class is 11 MiB: more than TCMalloc's 4 MiB per thread, within the 12 of
        // Spanheap's 24 that classes above 64 KiB may hold. After the warm-up rounds every allocation
        // is served by this cache.
        largeRounds(heap, cache, sizes, 1);
        assertThat(total(classes, cache::mallocs) - mallocsBefore).isEqualTo(sizes.length);
        assertThat(total(classes, cache::received)).as("nothing came from the central lists").isEqualTo(receivedBefore);
        assertThat(cache.budgetBytes()).isGreaterThanOrEqualTo(11L << 20)
                .isLessThanOrEqualTo(HeapConfig.DEFAULT_THREAD_CACHE_BYTES);
        cache.verify(heap.freeMarks());
    }

    /** The bytes the classes of {@code sizes} hold in {@code cache}. */
    private static long heldBytes(ThreadCache cache, long[] sizes) {
        int[] classes = java.util.Arrays.stream(sizes).mapToInt(SizeClassLookup::sizeClassOf).toArray();
        return total(classes, c -> (long) cache.depth(c) * SizeClasses.SIZE[c]);
    }

    /** {@code rounds} times: {@code perClass} blocks of each size allocated, then all freed. */
    private static void deepRounds(Heap heap, ThreadCache cache, long[] sizes, int perClass, int rounds) {
        long[] blocks = new long[sizes.length * perClass];
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = heap.allocate(cache, sizes[i % sizes.length], 1);
            }
            for (long block : blocks) {
                heap.free(cache, block);
            }
        }
    }

    @Test
    void classesAbove64KibHoldAtMostHalfTheBudget() {
        long[] sizes = java.util.Arrays.stream(largeSizes()).filter(size -> size > 64 << 10).toArray();
        ThreadCache cache = heap.currentThreadCache();
        // Two of each would be 21 MiB.
        deepRounds(heap, cache, sizes, 2, 6);
        assertThat(heldBytes(cache, sizes)).isGreaterThan(8L << 20)
                .isLessThanOrEqualTo(HeapConfig.DEFAULT_THREAD_CACHE_BYTES / 2);
        cache.verify(heap.freeMarks());
    }

    @Test
    void classesUpTo64KibMayHoldMoreThanHalfTheBudget() {
        long[] sizes = java.util.Arrays.stream(SizeClasses.SIZE).filter(size -> size >= 16 << 10 && size <= 64 << 10)
                .asLongStream().toArray();
        ThreadCache cache = heap.currentThreadCache();
        // 32 of each class from 16 to 64 KiB are 24 MiB: more than the classes above 64 KiB may hold.
        deepRounds(heap, cache, sizes, 32, 40);
        assertThat(heldBytes(cache, sizes)).isGreaterThan(HeapConfig.DEFAULT_THREAD_CACHE_BYTES / 2)
                .isLessThanOrEqualTo(HeapConfig.DEFAULT_THREAD_CACHE_BYTES);
        cache.verify(heap.freeMarks());
    }

    @Test
    void twoThreadsDoingLargePairsStayOffTheCentralLists() throws InterruptedException {
        long[] sizes = largeSizes();
        int[] classes = java.util.Arrays.stream(sizes).mapToInt(SizeClassLookup::sizeClassOf).toArray();
        // Each thread warms up, waits for the other, then counts what its last rounds took from the
        // central lists: nothing, as both caches fit one block of every class within their share.
        java.util.concurrent.CyclicBarrier warm = new java.util.concurrent.CyclicBarrier(2);
        long[] fromCentral = new long[2];
        Thread[] threads = new Thread[2];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        for (int t = 0; t < threads.length; t++) {
            int index = t;
            threads[t] = Thread.ofPlatform().start(() -> {
                try {
                    ThreadCache cache = heap.currentThreadCache();
                    largeRounds(heap, cache, sizes, 4);
                    warm.await();
                    long before = total(classes, cache::received);
                    largeRounds(heap, cache, sizes, 8);
                    fromCentral[index] = total(classes, cache::received) - before;
                    cache.verify(heap.freeMarks());
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
        }
        for (Thread thread : threads) {
            thread.join();
        }
        assertThat(failure.get()).isNull();
        assertThat(fromCentral).containsExactly(0, 0);
    }

    /**
     * {@code count} live threads whose caches hold budget (each allocated and freed a block), until
     * closed.
     */
    private static final class OtherHolders implements AutoCloseable {
        private final CountDownLatch done = new CountDownLatch(1);
        private final Thread[] threads;

        OtherHolders(Heap heap, int count) throws InterruptedException {
            CountDownLatch holding = new CountDownLatch(count);
            threads = new Thread[count];
            for (int i = 0; i < count; i++) {
                threads[i] = Thread.ofPlatform().start(() -> {
                    ThreadCache own = heap.currentThreadCache();
                    heap.free(own, heap.allocate(own, 4096, 1));
                    holding.countDown();
                    try {
                        done.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
            }
            holding.await();
        }

        @Override
        public void close() throws InterruptedException {
            done.countDown();
            for (Thread thread : threads) {
                thread.join();
            }
        }
    }

    @Test
    void aCacheTakesNoMoreThanItsShareWhileOthersHoldBudget() throws InterruptedException {
        long[] sizes = largeSizes();
        // Two caches holding budget share the default 32 MiB pool: 16 MiB each; four of them, 8.
        try (OtherHolders others = new OtherHolders(heap, 3)) {
            ThreadCache cache = heap.currentThreadCache();
            largeRounds(heap, cache, sizes, 6);
            assertThat(cache.budgetBytes()).isGreaterThan(4L << 20)
                    .isLessThanOrEqualTo(HeapConfig.DEFAULT_TOTAL_CACHE_BYTES / 4);
            cache.verify(heap.freeMarks());
        }
    }

    @Test
    void theShareFollowsTheCachesHoldingBudget() {
        CacheBudget budget = new CacheBudget(32L << 20, 16L << 20);
        assertThat(budget.shareCap()).isEqualTo(16L << 20);
        budget.startHolding();
        budget.startHolding();
        assertThat(budget.shareCap()).isEqualTo(16L << 20);
        budget.startHolding();
        budget.startHolding();
        assertThat(budget.shareCap()).isEqualTo(8L << 20);
        for (int i = 0; i < 4; i++) {
            budget.stopHolding();
        }
        assertThat(budget.holders()).isZero();
        assertThat(budget.shareCap()).isEqualTo(16L << 20);
    }

    /** {@code count} blocks of {@code size} allocated, then freed in order, {@code rounds} times. */
    private static void batchRounds(Heap heap, ThreadCache cache, long size, int count, int rounds) {
        long[] blocks = new long[count];
        for (int round = 0; round < rounds; round++) {
            for (int i = 0; i < count; i++) {
                blocks[i] = heap.allocate(cache, size, 1);
            }
            for (long block : blocks) {
                heap.free(cache, block);
            }
        }
    }

    @Test
    void aClassLeftUnusedGivesItsBudgetToTheClassesInUse() {
        // 2 MiB per cache: 512 KiB for kept large spans, 1.5 MiB for the classes.
        Heap small = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                2 << 20, 32 << 20, false));
        try {
            ThreadCache cache = small.currentThreadCache();
            int blocks64k = SizeClassLookup.sizeClassOf(64 << 10);
            int blocks4k = SizeClassLookup.sizeClassOf(4096);
            batchRounds(small, cache, 64 << 10, 16, 40);
            assertThat(cache.depth(blocks64k)).as("1 MiB of 64 KiB blocks kept").isGreaterThanOrEqualTo(16);
            // 256 blocks of 4 KiB need another 1 MiB, which the cache has only if at least half of the
            // idle 64 KiB blocks go.
            batchRounds(small, cache, 4096, 256, 400);
            assertThat(cache.depth(blocks64k)).isLessThanOrEqualTo(8);
            // Without that, about 100 (the 512 KiB left); with it, nearly the whole round.
            assertThat(cache.depth(blocks4k)).isGreaterThanOrEqualTo(224);
            cache.verify(small.freeMarks());
            small.verify();
        } finally {
            small.close();
        }
    }

    @Test
    void aCacheThatGrewAloneShrinksToItsShareWhenOthersStart() throws InterruptedException {
        ThreadCache cache = heap.currentThreadCache();
        largeRounds(heap, cache, largeSizes(), 4);
        assertThat(cache.budgetBytes()).as("alone: the per-cache most").isGreaterThan(11L << 20);
        try (OtherHolders others = new OtherHolders(heap, 3)) {
            // Four caches hold budget: 8 MiB each. This cache's classes are all in use (none is idle
            // since a review), so its next review halves the largest until it fits.
            long grantedBefore = heap.budget().granted();
            long heldBefore = cache.budgetBytes();
            cache.review(0);
            assertThat(cache.budgetBytes()).isLessThanOrEqualTo(HeapConfig.DEFAULT_TOTAL_CACHE_BYTES / 4);
            assertThat(heap.budget().granted()).as("what it gave up went back to the pool")
                    .isEqualTo(grantedBefore - (heldBefore - cache.budgetBytes()));
            cache.verify(heap.freeMarks());
            heap.verify();
        }
    }

    @Test
    void aCacheKeepsObjectsHoweverManyCachesShareThePool() {
        CacheBudget budget = heap.budget();
        // With this thread's cache, 100 caches hold budget: 335 KiB each of the default 32 MiB.
        for (int i = 0; i < 99; i++) {
            budget.startHolding();
        }
        try {
            ThreadCache cache = heap.currentThreadCache();
            int c = SizeClassLookup.sizeClassOf(256);
            batchRounds(heap, cache, 256, 64, 50);
            long receivedBefore = cache.received(c);
            long mallocsBefore = cache.mallocs(c);
            batchRounds(heap, cache, 256, 64, 10);
            assertThat(cache.received(c) - receivedBefore).as("objects taken from the central list")
                    .isLessThan((cache.mallocs(c) - mallocsBefore) / 10);
            assertThat(cache.budgetBytes()).isPositive().isLessThanOrEqualTo(budget.shareCap());
            cache.verify(heap.freeMarks());
        } finally {
            for (int i = 0; i < 99; i++) {
                budget.stopHolding();
            }
        }
    }

    /**
     * {@code verify()}, which the property tests run after every step, must see each way a cache
     * can be wrong: each check is broken here in turn and put right again.
     */
    @Test
    void verifyFindsACachedObjectWithoutItsFreeMark() {
        ThreadCache cache = heap.currentThreadCache();
        for (long size : new long[] {16, 256}) {
            int c = SizeClassLookup.sizeClassOf(size);
            long block = heap.allocate(cache, size, 1);
            heap.free(cache, block);
            heap.freeMarks().markAllocated(block, c);
            assertThatThrownBy(() -> cache.verify(heap.freeMarks())).isInstanceOf(IllegalStateException.class)
                    .hasMessage("heap invariant broken: cached object 0x%x of class %d is not marked free", block, c);
            heap.freeMarks().markFree(block, c);
            cache.verify(heap.freeMarks());
        }
    }

    @Test
    void verifyFindsAClassDeeperThanItsLimit() {
        ThreadCache cache = heap.currentThreadCache();
        int c = SizeClassLookup.sizeClassOf(64);
        long[] blocks = new long[3];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = heap.allocate(cache, 64, 1);
        }
        for (long block : blocks) {
            heap.free(cache, block);
        }
        long[] slots = cache.fastSlots();
        long ends = slots[ThreadCache.PAD + 2 * c];
        int depth = cache.depth(c);
        assertThat(depth).isGreaterThanOrEqualTo(blocks.length);
        // The limit's end moved down to the top: a limit one below the depth.
        slots[ThreadCache.PAD + 2 * c] = (ends & 0xffff_ffffL) | (ends & 0xffff_ffffL) << 32;
        try {
            assertThatThrownBy(() -> cache.verify(heap.freeMarks())).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("heap invariant broken: cache class %d: depth %d, limit %d,", c, depth, depth - 1);
        } finally {
            slots[ThreadCache.PAD + 2 * c] = ends;
        }
        cache.verify(heap.freeMarks());
    }

    @Test
    void verifyFindsACacheThatNamesAnotherOwner() {
        ThreadCache cache = heap.currentThreadCache();
        long[] slots = cache.fastSlots();
        long owner = slots[ThreadCache.OWNER];
        slots[ThreadCache.OWNER] = owner + 1000;
        try {
            assertThatThrownBy(() -> cache.verify(heap.freeMarks())).isInstanceOf(IllegalStateException.class)
                    .hasMessage("heap invariant broken: cache of thread %d names thread %d as its owner", owner, owner + 1000);
        } finally {
            slots[ThreadCache.OWNER] = owner;
        }
        cache.verify(heap.freeMarks());
    }
    /**
     * A stripe fetches a batch without its lock and stashes it afterwards ({@link ThreadCache#stash}),
     * by when other virtual threads may have filled the class: only the room left is pushed, on top
     * of what is there, and the rest goes back to the central list. Here the class is filled to three
     * below its limit between the fetch and the stash, as those frees would. (PIT: a stash that
     * ignored the depth, or copied below the stack's top, passed every test, since a lone thread
     * stashes only into an empty class.)
     */
    @Test
    void aStashPushesOnlyTheRoomLeftOnTopOfTheStack() {
        ThreadCache cache = heap.currentThreadCache();
        int c = SizeClassLookup.sizeClassOf(64);
        long[] kept = new long[300];
        for (int i = 0; i < kept.length; i++) {
            kept[i] = heap.allocate(cache, 64, 1);
        }
        int wanted = cache.refillCount(c);
        long[] batch = new long[wanted];
        int got = heap.central(c).take(batch, 0, wanted);
        assertThat(got).isEqualTo(wanted).isGreaterThan(4);

        int freed = 0;
        while (!cache.isFull(c)) {
            heap.free(cache, kept[freed++]);
        }
        // Three popped as a stripe's users would take them (still marked free: no user sees them).
        long[] top = new long[3];
        for (int i = 0; i < top.length; i++) {
            top[i] = cache.allocate(c);
        }
        // The object now on top, popped and pushed back (it stays marked free throughout).
        long below = cache.allocate(c);
        assertThat(cache.free(c, below)).isTrue();
        int depth = cache.depth(c);
        long received = cache.received(c);

        int left = cache.stash(c, batch, got);
        assertThat(left).as("three fit, the first goes to the caller").isEqualTo(got - 1 - 3);
        assertThat(cache.depth(c)).isEqualTo(depth + 3);
        assertThat(cache.isFull(c)).isTrue();
        assertThat(cache.received(c)).isEqualTo(received + got);
        for (int i = 3; i >= 1; i--) {
            assertThat(cache.allocate(c)).as("pushed on top, in the batch's order").isEqualTo(batch[i]);
        }
        assertThat(cache.allocate(c)).as("what was there stays below").isEqualTo(below);
        assertThat(cache.free(c, below)).isTrue();
        // Put everything back as the stripe's caller and its users would, and check the census.
        for (int i = 1; i <= 3; i++) {
            heap.free(cache, heap.handedOut(batch[i], c));
        }
        for (long block : top) {
            heap.free(cache, heap.handedOut(block, c));
        }
        heap.central(c).giveFromFree(batch, got - left, left);
        heap.free(cache, heap.handedOut(batch[0], c));
        for (int i = freed; i < kept.length; i++) {
            heap.free(cache, kept[i]);
        }
        cache.verify(heap.freeMarks());
        heap.verify();
        assertThat(new HeapStatistics(heap).snapshot().heapObjects()).isZero();
    }
}
