package dev.spanheap.internal;

import java.util.function.Consumer;

/**
 * The fast way from a thread to its {@link ThreadCache}: a direct-mapped table indexed by
 * {@code threadId & (length - 1)}, in which every registered live thread has a slot of its own.
 * The fast paths read a mirror of it that holds each cache's {@link ThreadCache#fastSlots()}, the
 * array they work on, so that finding it is one load less: a reader compares the array's
 * {@link ThreadCache#OWNER} word with its own id (ids are never reused), so an empty slot, a stale
 * table or another thread's cache is a miss, never a wrong cache.
 *
 * <p>When a new thread's slot is held by a live thread (their ids agree in the low bits: with
 * thread churn, ids grow without bound and a new pool thread sooner or later lands on a long-lived
 * one's slot), the table doubles until every live thread's id maps to a slot of its own. A thread
 * without a slot would otherwise take the slow path, with its {@link ThreadLocal} lookup, for its
 * whole life. Up to {@link #MAX_SLOTS} slots (8 MiB of references on a 64-bit JVM, twice over); a
 * thread that still collides at that size, which takes an adversarial set of ids, keeps the slow
 * path. Virtual threads never grow the table: they come and go by the thousand, so that the
 * table, grown at each collision with a live thread, would soon reach its largest size. One whose
 * slot is taken gets no cache (see ThreadCaches#register).
 *
 * <p>Written under the cache registry's lock, read without a lock: a new mirror is published by a
 * plain store to the reader's field ({@code onResize}), and slots change in place. A reader that
 * still sees an old mirror finds its cache there or misses, both of which are safe. A reader that
 * sees another thread's array may see its owner word as 0 or as that thread's id, a miss either
 * way; the one reader that can match, the owner, wrote the word itself before it published the
 * array.
 */
final class ThreadSlots {

    /** The first table's size, a power of two: enough for a thousand threads with sequential ids. */
    static final int INITIAL_SLOTS = 1024;
    static final int MAX_SLOTS = 1 << 20;

    private ThreadCache[] table = new ThreadCache[INITIAL_SLOTS];
    /** {@link #table}'s mirror for the fast paths: each cache's {@link ThreadCache#fastSlots()}. */
    private long[][] fastTable = new long[INITIAL_SLOTS][];
    private final Consumer<long[][]> onResize;

    /** @param onResize told each new mirror for the fast paths, once now and after every growth */
    ThreadSlots(Consumer<long[][]> onResize) {
        this.onResize = onResize;
        onResize.accept(fastTable);
    }

    /** The current table; a reader masks the id with its length. */
    ThreadCache[] table() {
        return table;
    }

    private static int slot(long threadId, int length) {
        return (int) threadId & (length - 1);
    }

    /** The cache of thread {@code threadId} in its slot, or null; without the lock, as the fast paths read. */
    ThreadCache cacheOf(long threadId) {
        ThreadCache[] current = table;
        ThreadCache cache = current[slot(threadId, current.length)];
        return cache != null && cache.ownerId == threadId ? cache : null;
    }

    /** Whether the slot of thread {@code threadId} is free in the current table. Registry lock. */
    boolean isFree(long threadId) {
        return table[slot(threadId, table.length)] == null;
    }

    /**
     * Gives {@code cache}'s thread a slot, growing the table if a live thread holds it and
     * {@code mayGrow}; returns whether the thread has one. Registry lock.
     */
    boolean add(ThreadCache cache, boolean mayGrow) {
        int slot = slot(cache.ownerId, table.length);
        if (table[slot] == null) {
            table[slot] = cache;
            fastTable[slot] = cache.fastSlots();
            return true;
        }
        if (!mayGrow) {
            return false;
        }
        for (int length = table.length * 2; length <= MAX_SLOTS; length *= 2) {
            ThreadCache[] grown = rehash(length, cache);
            if (grown != null) {
                long[][] fastGrown = new long[length][];
                for (int i = 0; i < length; i++) {
                    fastGrown[i] = grown[i] == null ? null : grown[i].fastSlots();
                }
                table = grown;
                fastTable = fastGrown;
                onResize.accept(fastGrown);
                return true;
            }
        }
        return false;
    }

    /** The table of {@code length} slots holding every cache now placed and {@code added}, or null on a collision. */
    private ThreadCache[] rehash(int length, ThreadCache added) {
        ThreadCache[] grown = new ThreadCache[length];
        for (ThreadCache cache : table) {
            if (cache != null) {
                grown[slot(cache.ownerId, length)] = cache;
            }
        }
        int slot = slot(added.ownerId, length);
        if (grown[slot] != null) {
            return null;
        }
        grown[slot] = added;
        return grown;
    }

    /** Frees the slot of {@code cache}, whose thread has ended. Registry lock. */
    void remove(ThreadCache cache) {
        int slot = slot(cache.ownerId, table.length);
        if (table[slot] == cache) {
            table[slot] = null;
            fastTable[slot] = null;
        }
    }
}
