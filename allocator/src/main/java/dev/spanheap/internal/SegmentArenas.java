package dev.spanheap.internal;

import java.lang.foreign.Arena;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The scopes of an unchecked heap's segments: one shared JDK arena per stripe of threads, picked by
 * thread id, made when a thread of that stripe first needs one, and all closed by the heap's close,
 * which is what makes every segment fail after it.
 *
 * <p>One arena for every segment would be as safe, but the JDK acquires a shared scope (an atomic
 * update of one counter) before every native call that takes one of its segments by reference, and
 * releases it after, so that a close cannot take the memory away during the call. Threads passing
 * their own buffers to native code then all updated one counter: two threads each calling
 * {@code strlen} on a heap segment took 57 ns a call against 9 for one thread alone, and 7-9 for a
 * segment of the global scope or of a confined arena (JMH, 2 forks). With a stripe per thread, each
 * thread's segments have a counter of their own, and threads that pass each other's segments share
 * one as they would with a JDK arena.
 *
 * <p>A stripe's arena is published once and never replaced: the fast path reads it without a lock.
 * Making one takes the lock that {@link #close} holds, so none can be made, and left open, after it.
 */
final class SegmentArenas {

    /** Stripes: threads whose ids differ in their low six bits never share a scope. */
    static final int STRIPES = 64;

    private static final VarHandle ARENAS = MethodHandles.arrayElementVarHandle(Arena[].class);

    private final Arena[] arenas = new Arena[STRIPES];
    private final ReentrantLock lock = new ReentrantLock();
    private boolean closed;

    /** The calling thread's stripe's arena, or null when none is made yet ({@link #create}). */
    Arena current() {
        return (Arena) ARENAS.getAcquire(arenas, stripeOfCurrentThread());
    }

    /** Makes the calling thread's stripe's arena if no thread has; refuses after {@link #close}. */
    Arena create() {
        int stripe = stripeOfCurrentThread();
        LockWaits.lock(lock);
        try {
            if (closed) {
                throw FreeChecks.closed();
            }
            Arena arena = arenas[stripe];
            if (arena == null) {
                arena = Arena.ofShared();
                ARENAS.setRelease(arenas, stripe, arena);
            }
            return arena;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Closes every arena made. Each close handshakes every thread, so no access through one of its
     * segments is still running when this returns.
     */
    void close() {
        LockWaits.lock(lock);
        try {
            closed = true;
            for (Arena arena : arenas) {
                if (arena != null) {
                    arena.close();
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** How many stripes have an arena (tests). */
    int made() {
        int made = 0;
        for (Arena arena : arenas) {
            made += arena != null ? 1 : 0;
        }
        return made;
    }

    private static int stripeOfCurrentThread() {
        return (int) Thread.currentThread().threadId() & (STRIPES - 1);
    }
}
