package dev.spanheap.internal;

import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * How the heap waits (for a lock, or for a release in flight) so that a wait never throws.
 *
 * <p>A virtual thread waits by unmounting: its frames are copied off the carrier's stack, and the
 * JDK does that copy with work in proportion to the number of frames. When the thread is deep in a
 * stack, the copy runs out of room and the park throws a {@link StackOverflowError}, while most of
 * the stack is still free (a plain loop: a small recursive method's frames, parked on a held lock
 * 32% of the way to the deepest call it could make; every park threw from
 * {@code Continuation.doYield}, and at 24% none did). {@link StackHeadroom#ensure()} cannot help:
 * the room the copy needs depends on the frames above, not below. So every lock the heap takes
 * could throw when it has to wait, and many are taken after a shared change (a sampled span is
 * allocated under the page heap's lock, then its sample recorded under that lock again; a growth
 * committed, then published): the overflow left a sampled span with no sample
 * ({@code StackOverflowTest}, once in the CI; {@code DeepVirtualThreadWaitTest} in every run).
 *
 * <p>Here a wait that overflows becomes spinning on the carrier until the holder is done, the
 * way a virtual thread that cannot unmount for another reason (a native frame) keeps its carrier
 * while it waits. The heap's locks are held for short sections with no system call, so the spin is
 * short; as with such pinned threads, a holder that is itself a virtual thread waiting to be
 * mounted again needs another carrier to finish. That limit is real: with one carrier
 * ({@code -Djdk.virtualThreadScheduler.parallelism=1}), a deep virtual thread spinning for a lock
 * whose holder, a virtual thread, had parked in a wait for a second lock (held by a platform thread)
 * waited for good once that second lock was free (a plain program, JDK 25). A timed
 * {@code Object.wait} in place of the spin does not help: on such a thread it does not throw, but it
 * blocks the carrier without the scheduler adding one, so the holder still got none. It takes every
 * carrier spinning at once, each for a holder that parked inside the heap while holding a lock. A
 * platform thread's park copies nothing and does not throw so; a {@link StackOverflowError} from the
 * call itself (no room for its frame) is thrown again by the spin's first call.
 *
 * <p>Monitors do not need this ({@code synchronized}, which {@link HeapProfiler} uses, and the
 * {@code Object.wait} in a join of the scavenger's platform thread at close): when a virtual thread
 * that cannot unmount blocks on one, the JDK blocks its carrier instead. The same loop found no
 * overflow there, and {@code DeepVirtualThreadWaitTest} pins both.
 */
final class LockWaits {

    private LockWaits() {
    }

    /** Takes {@code lock}, waiting as long as needed; throws nothing from the wait. */
    static void lock(ReentrantLock lock) {
        try {
            lock.lock();
        } catch (StackOverflowError cannotUnmount) {
            // The lock's own code cancelled the wait (it catches errors from its park and leaves
            // the queue as it was), so the lock is not held here.
            while (!lock.tryLock()) {
                Thread.onSpinWait();
            }
        }
    }

    /** Parks the calling thread for about {@code nanos}, or spins once when it cannot unmount. */
    static void pause(long nanos) {
        try {
            LockSupport.parkNanos(nanos);
        } catch (StackOverflowError cannotUnmount) {
            Thread.onSpinWait();
        }
    }
}
