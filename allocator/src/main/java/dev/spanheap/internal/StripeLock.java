package dev.spanheap.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The lock of one of the virtual threads' stripes ({@link StripedCaches}): a flag taken with one
 * compare-and-set and released with one store, with no queue of waiters. A waiter spins
 * briefly, then parks for growing spans of time (see {@link #lockContended}).
 *
 * <p>Why not a {@code ReentrantLock}: virtual threads take a stripe's lock on every allocation and
 * every free, and its lock and unlock took 14 ns together against 9-11 for this flag (a plain loop
 * on one virtual thread); its release is a volatile write followed by a look for waiters to wake.
 * A 16 B pair on a virtual thread took 43 ns with this flag against 54 (JMH). Waiting is rare here:
 * each carrier has a stripe of its own ({@link CarrierStripes}), and the critical sections are a
 * few array operations, except when a full class drains to its central list, whose lock may park
 * the holder: then another virtual thread on the holder's carrier may want the stripe, and waits.
 *
 * <p>Release by writing 0 to {@link #held} in the caller's {@code finally} block, not through a
 * method: a field write calls nothing, so a {@link StackOverflowError} cannot strike between the
 * critical section and the release and leave the stripe locked for good. The two releases on every
 * virtual thread's allocation and free use {@link #unlock()} instead, a release store, with that
 * field write as the fallback in the caller's frame: the volatile write is a locked instruction on
 * x86 (a full fence), and with one on each allocation and free a 16 B pair on a virtual thread took
 * 40.3-43.2 ns, against 31.2-34.1 with the release store (JMH, four runs of 2 forks alternating
 * between the two builds).
 *
 * <p>The flag sits 64 bytes or more from anything else: the superclass's padding comes before it
 * and this class's after it (HotSpot lays out a superclass's fields first, but puts a subclass's
 * {@code int} into any gap they leave, so the padding class fills the one after the object header),
 * so the flag never shares a cache line with another carrier's lock or with whatever object the
 * collector puts before it. With that gap open the flag sat at offset 12, and in 4 JMH forks of 10
 * two virtual threads' 16 B pairs on two carriers took 110-210 ns against 33-40 (16 forks after: 33-40).
 */
final class StripeLock extends StripeLockFlag {

    /** Spins before a waiter starts to park. */
    private static final int SPINS = 100;
    private static final long MIN_PARK_NANOS = 10_000;
    private static final long MAX_PARK_NANOS = 1_000_000;
    private static final VarHandle HELD;

    static {
        try {
            HELD = MethodHandles.lookup().findVarHandle(StripeLockFlag.class, "held", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @SuppressWarnings("unused")
    private long after0, after1, after2, after3, after4, after5, after6, after7;

    /**
     * Releases the lock with a release store: what the holder wrote happens before the next
     * holder's compare-and-set, as with the volatile write, but without its fence, which nothing
     * here needs (no waiter is woken). It is a call, and in code not yet compiled the VarHandle's
     * frames can overflow the stack (the carrier lookup before the lock goes deeper, so an overflow
     * usually strikes there first, but the tiers compile these methods at different times); so the
     * caller writes {@code held = 0} if it throws:
     * <pre>{@code
     * } finally {
     *     try {
     *         lock.unlock();
     *     } catch (Throwable overflow) {
     *         lock.held = 0;
     *         throw overflow;
     *     }
     * }
     * }</pre>
     * Nothing throws once the store is done, so the fallback never releases another holder's lock.
     */
    void unlock() {
        HELD.setRelease(this, 0);
    }

    /** Takes the lock; release it with {@link #unlock()} or {@code held = 0}. */
    void lock() {
        if (!HELD.compareAndSet(this, 0, 1)) {
            lockContended();
        }
    }

    /**
     * Spins a little, then parks for a while at a time, longer each time up to {@link #MAX_PARK_NANOS}:
     * the holder may itself be parked (a virtual thread waiting for a central list's lock), and then
     * it needs a carrier to finish, which a waiter that only yielded would keep busy. Nobody wakes a
     * waiter: the release writes the flag and looks for no one, so a waiter looks again when its park
     * ends. A virtual thread too deep in its stack to unmount spins instead ({@link LockWaits}).
     */
    private void lockContended() {
        long park = MIN_PARK_NANOS;
        for (int spins = 0; ; spins++) {
            if (held == 0 && HELD.compareAndSet(this, 0, 1)) {
                return;
            }
            if (spins < SPINS) {
                Thread.onSpinWait();
            } else {
                LockWaits.pause(park);
                park = Math.min(2 * park, MAX_PARK_NANOS);
            }
        }
    }
}

/**
 * Padding before {@link StripeLockFlag#held}; see {@link StripeLock}. {@code headerGap} fills the 4
 * bytes after the 12-byte object header: left empty, HotSpot puts a subclass's {@code int} there, and
 * {@code held} sat at offset 12, before this padding, on the line of whatever object came before.
 */
abstract class StripeLockPadding {
    @SuppressWarnings("unused")
    private int headerGap;
    @SuppressWarnings("unused")
    private long before0, before1, before2, before3, before4, before5, before6, before7;
}

/** The flag of a {@link StripeLock}, between its paddings. */
abstract class StripeLockFlag extends StripeLockPadding {
    /** 1 while a thread holds the lock; its holder writes 0 to release it. */
    volatile int held;
}
