package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Every registered live thread gets a slot of its own, whatever its id: issue 14's thread-slot cliff,
 * where a thread whose id matched a live thread's modulo 1024 took the slow path for its whole life.
 */
class ThreadSlotsTest {

    private final List<long[][]> published = new ArrayList<>();
    private final ThreadSlots slots = new ThreadSlots(published::add);

    private static ThreadCache cacheOf(long threadId) {
        return new ThreadCache(null, null, threadId, null, null, Long.MAX_VALUE);
    }

    private static ThreadCache found(ThreadCache[] table, long threadId) {
        return table[(int) threadId & (table.length - 1)];
    }

    /** What the fast paths find for {@code threadId} in the published mirror: an array it owns, or null. */
    private static long[] foundFast(long[][] mirror, long threadId) {
        long[] slots = mirror[(int) threadId & (mirror.length - 1)];
        return slots != null && slots[ThreadCache.OWNER] == threadId ? slots : null;
    }

    @Test
    void threadsWhoseIdsCollideEachGetASlot() {
        ThreadCache first = cacheOf(5);
        ThreadCache second = cacheOf(5 + ThreadSlots.INITIAL_SLOTS);
        ThreadCache third = cacheOf(5 + 2 * ThreadSlots.INITIAL_SLOTS);
        slots.add(first, true);
        slots.add(second, true);
        slots.add(third, true);
        ThreadCache[] table = slots.table();
        long[][] mirror = published.getLast();
        assertThat(table).hasSize(4 * ThreadSlots.INITIAL_SLOTS);
        assertThat(mirror.length).isEqualTo(table.length);
        for (ThreadCache cache : List.of(first, second, third)) {
            assertThat(found(table, cache.ownerId)).isSameAs(cache);
            assertThat(foundFast(mirror, cache.ownerId)).isSameAs(cache.fastSlots());
        }
        assertThat(published).hasSize(3);
    }

    /** One add may need the table doubled several times, up to and including its largest size. */
    @Test
    void theTableDoublesAsOftenAsACollisionNeedsUpToItsLargestSize() {
        ThreadCache first = cacheOf(5);
        ThreadCache apart = cacheOf(5 + 4L * ThreadSlots.INITIAL_SLOTS);
        slots.add(first, true);
        slots.add(apart, true);
        assertThat(slots.table()).as("three doublings in one add").hasSize(8 * ThreadSlots.INITIAL_SLOTS);

        ThreadCache far = cacheOf(5 + ThreadSlots.MAX_SLOTS / 2);
        slots.add(far, true);
        ThreadCache[] table = slots.table();
        assertThat(table).as("the largest table").hasSize(ThreadSlots.MAX_SLOTS);
        for (ThreadCache cache : List.of(first, apart, far)) {
            assertThat(found(table, cache.ownerId)).isSameAs(cache);
            assertThat(foundFast(published.getLast(), cache.ownerId)).isSameAs(cache.fastSlots());
        }

        ThreadCache beyond = cacheOf(5 + ThreadSlots.MAX_SLOTS);
        slots.add(beyond, true);
        assertThat(slots.table()).as("no larger table").isSameAs(table);
        assertThat(foundFast(published.getLast(), beyond.ownerId)).as("left to the slow path").isNull();
        assertThat(found(table, first.ownerId)).isSameAs(first);
    }

    /** A virtual thread's cache may not grow the table: on a collision it is left without a slot. */
    @Test
    void aCacheThatMayNotGrowTheTableIsLeftWithoutASlotOnACollision() {
        ThreadCache first = cacheOf(5);
        ThreadCache colliding = cacheOf(5 + ThreadSlots.INITIAL_SLOTS);
        assertThat(slots.add(first, false)).as("a free slot needs no growth").isTrue();
        assertThat(slots.isFree(colliding.ownerId)).isFalse();
        assertThat(slots.add(colliding, false)).isFalse();
        assertThat(slots.table()).hasSize(ThreadSlots.INITIAL_SLOTS);
        assertThat(published).hasSize(1);
        assertThat(found(slots.table(), first.ownerId)).isSameAs(first);
        assertThat(foundFast(published.getFirst(), colliding.ownerId)).isNull();
        assertThat(slots.isFree(6)).isTrue();
    }

    @Test
    void sequentialIdsShareTheFirstTable() {
        for (long id = 100; id < 100 + ThreadSlots.INITIAL_SLOTS; id++) {
            slots.add(cacheOf(id), true);
        }
        assertThat(published).hasSize(1);
        for (long id = 100; id < 100 + ThreadSlots.INITIAL_SLOTS; id++) {
            assertThat(found(slots.table(), id).ownerId).isEqualTo(id);
            assertThat(foundFast(published.getFirst(), id)).isSameAs(found(slots.table(), id).fastSlots());
        }
    }

    @Test
    void anEndedThreadsSlotIsReused() {
        ThreadCache ended = cacheOf(7);
        slots.add(ended, true);
        slots.remove(ended);
        assertThat(foundFast(published.getFirst(), 7)).as("the ended thread's array").isNull();
        ThreadCache next = cacheOf(7 + ThreadSlots.INITIAL_SLOTS);
        slots.add(next, true);
        assertThat(slots.table()).hasSize(ThreadSlots.INITIAL_SLOTS);
        assertThat(found(slots.table(), next.ownerId)).isSameAs(next);
        assertThat(foundFast(published.getFirst(), next.ownerId)).isSameAs(next.fastSlots());
        assertThat(foundFast(published.getFirst(), 7)).as("another thread's array is a miss").isNull();
    }

    @Test
    void aHeapGivesAThreadWhoseSlotALiveThreadHoldsASlotOfItsOwn() throws InterruptedException {
        Heap heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                1 << 20, 8 << 20, false));
        CountDownLatch registered = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        Runnable holdSlot = () -> {
            heap.free(heap.allocate(16, 1));
            registered.countDown();
            try {
                done.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        long mine = Thread.currentThread().threadId();
        Thread holder;
        do {
            holder = Thread.ofPlatform().unstarted(holdSlot);
        } while (((holder.threadId() ^ mine) & (ThreadSlots.INITIAL_SLOTS - 1)) != 0);
        try {
            holder.start();
            assertThat(registered.await(30, TimeUnit.SECONDS)).isTrue();
            ThreadCache own = heap.currentThreadCache();
            ThreadCache[] table = heap.caches().slotTable();
            assertThat(found(table, mine)).as("this thread's slot").isSameAs(own);
            assertThat(found(table, holder.threadId()).ownerId).isEqualTo(holder.threadId());
        } finally {
            done.countDown();
            holder.join(TimeUnit.SECONDS.toMillis(30));
            heap.close();
        }
    }
    /**
     * Spanheap keeps the slot table in a field of its own (Heap#mirrorSlotTable): the copy must follow
     * the table when it grows, or every thread that only the grown table holds would miss its
     * cache on every fast path.
     */
    @Test
    void aMirrorOfTheSlotTableFollowsItsGrowth() throws InterruptedException {
        Heap heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                1 << 20, 8 << 20, false));
        AtomicReference<long[][]> mirrored = new AtomicReference<>();
        heap.mirrorSlotTable(mirrored::set);
        assertThat(mirrored.get()).isSameAs(heap.slotTable());
        long mine = Thread.currentThread().threadId();
        heap.free(heap.allocate(mirrored.get(), mirrored.get().length - 1, 16, 1));
        CountDownLatch registered = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        Thread holder;
        do {
            holder = Thread.ofPlatform().unstarted(() -> {
                long[][] table = mirrored.get();
                heap.free(table, table.length - 1, heap.allocate(table, table.length - 1, 16, 1));
                registered.countDown();
                try {
                    done.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        } while (((holder.threadId() ^ mine) & (ThreadSlots.INITIAL_SLOTS - 1)) != 0);
        try {
            holder.start();
            assertThat(registered.await(30, TimeUnit.SECONDS)).isTrue();
            // Two live threads in one slot: the table doubled, and the mirror holds the new one.
            assertThat(heap.slotTable().length).isGreaterThan(ThreadSlots.INITIAL_SLOTS);
            assertThat(mirrored.get()).isSameAs(heap.slotTable());
            assertThat(foundFast(mirrored.get(), mine)).isSameAs(heap.currentThreadCache().fastSlots());
            assertThat(foundFast(mirrored.get(), holder.threadId())[ThreadCache.OWNER]).isEqualTo(holder.threadId());
        } finally {
            done.countDown();
            holder.join(TimeUnit.SECONDS.toMillis(30));
            heap.close();
        }
    }

    /**
     * A facade keeps the table and its mask in two plain fields, and may read a grown table's mask
     * with the old, shorter table. A thread whose id then masks past the old table's end must miss
     * to the slow path, not index out of bounds.
     */
    @Test
    void aMaskLongerThanTheTableIsAMissNotAnException() throws InterruptedException {
        Heap heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 1L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                1 << 20, 8 << 20, false));
        long[][] table = heap.slotTable();
        int grownMask = 2 * table.length - 1;
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicReference<Long> freed = new AtomicReference<>();
        Thread thread;
        do {
            thread = Thread.ofPlatform().unstarted(() -> {
                try {
                    long address = heap.allocate(table, grownMask, 16, 1);
                    heap.free(table, grownMask, address);
                    freed.set(address);
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
        } while ((thread.threadId() & grownMask) < table.length);
        thread.start();
        thread.join();
        assertThat(failure.get()).isNull();
        assertThat(freed.get()).isNotNull().isNotZero();
        heap.verify();
        heap.close();
    }
}
