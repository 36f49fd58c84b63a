package dev.spanheap.internal;

import java.util.function.Consumer;

/**
 * The fast way from a platform thread to its {@link ThreadCache}: a direct-mapped table indexed by
 * {@code threadId & (length - 1)}, in which every registered live thread has a slot of its own.
 * A reader compares the slot's {@link ThreadCache#ownerId} with its own id (ids are never reused),
 * so an empty slot, a stale table or another thread's cache is a miss, never a wrong cache.
 *
 * <p>When a new thread's slot is held by a live thread (their ids agree in the low bits: with
 * thread churn, ids grow without bound and a new pool thread sooner or later lands on a long-lived
 * one's slot), the table doubles until every live thread's id maps to a slot of its own. A thread
 * without a slot would otherwise take the slow path, with its {@link ThreadLocal} lookup, for its
 * whole life. Up to {@link #MAX_SLOTS} slots (8 MiB of references on a 64-bit JVM); a thread that
 * still collides at that size, which takes an adversarial set of ids, keeps the slow path.
 *
 * <p>Written under the cache registry's lock, read without a lock: a new table is published by a
 * plain store to the reader's mirror ({@code onResize}); a reader that still sees the old table
 * finds its cache there or misses, both of which are safe, and a reader of the new one sees each
 * slot as null (a miss) or as a fully built cache, whose fields are final.
 */
final class ThreadSlots {

    /** The first table's size, a power of two: enough for a thousand threads with sequential ids. */
    static final int INITIAL_SLOTS = 1024;
    static final int MAX_SLOTS = 1 << 20;

    private ThreadCache[] table = new ThreadCache[INITIAL_SLOTS];
    private final Consumer<ThreadCache[]> onResize;

    /** @param onResize told each new table, once now and after every growth */
    ThreadSlots(Consumer<ThreadCache[]> onResize) {
        this.onResize = onResize;
        onResize.accept(table);
    }

    /** The current table; a reader masks the id with its length. */
    ThreadCache[] table() {
        return table;
    }

    private static int slot(long threadId, int length) {
        return (int) threadId & (length - 1);
    }

    /** Gives {@code cache}'s thread a slot, growing the table if a live thread holds it. Registry lock. */
    void add(ThreadCache cache) {
        int slot = slot(cache.ownerId, table.length);
        if (table[slot] == null) {
            table[slot] = cache;
            return;
        }
        for (int length = table.length * 2; length <= MAX_SLOTS; length *= 2) {
            ThreadCache[] grown = rehash(length, cache);
            if (grown != null) {
                table = grown;
                onResize.accept(grown);
                return;
            }
        }
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
        }
    }
}
