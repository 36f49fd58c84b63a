package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A virtual thread deep in its stack cannot unmount: the JDK's park throws a
 * {@link StackOverflowError} when it copies the thread's frames off the carrier, long before the
 * stack is full. The heap's waits ({@link LockWaits}) must not: an allocation or free that waits for
 * a lock held by another thread finishes, and the heap stays consistent. Before them, 13-101 of
 * 20 000 such calls threw, and one in a few hundred left a sampled span without its sample ("31
 * sampled spans, but the profiler has 30 live samples"), which the CI met once in
 * {@code StackOverflowTest}.
 */
class DeepVirtualThreadWaitTest {

    private static final int OPERATIONS = 6_000;

    /**
     * What the call at the bottom of {@link #dive} does: a free of {@code address}, an allocation of
     * {@code size} bytes, a {@code waiting}, or nothing. One class, so that the call site stays
     * monomorphic and the recursion's compiled frames (which the depth is measured in) do not change.
     */
    private record Bottom(Heap heap, long address, long size, Runnable waiting) {
        long run() {
            if (waiting != null) {
                waiting.run();
                return 0;
            }
            if (address != 0) {
                heap.free(address);
                return 0;
            }
            return size != 0 ? heap.allocate(size, 1) : 1;
        }
    }

    @ParameterizedTest(name = "virtualThreadCaches {0}, checked {1}")
    @CsvSource({"16, false", "0, false", "16, true", "0, true"})
    void aDeepVirtualThreadsWaitsForLocksNeverThrowAndLeaveTheHeapConsistent(int virtualThreadCaches,
            boolean checked) throws Exception {
        Heap heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, 8L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                HeapConfig.DEFAULT_THREAD_CACHE_BYTES, HeapConfig.DEFAULT_TOTAL_CACHE_BYTES, checked,
                HeapConfig.Scavenging.manual(System::nanoTime), 16 << 10, "deep")
                .withVirtualThreadCaches(virtualThreadCaches));
        AtomicBoolean stop = new AtomicBoolean();
        // The page heap's lock held often and briefly, and everything that statistics, a release of
        // memory and a profile take, so that the virtual thread's slow paths often wait.
        Thread lockHolder = Thread.ofPlatform().start(() -> {
            while (!stop.get()) {
                heap.pageHeap().lock.lock();
                try {
                    Thread.onSpinWait();
                } finally {
                    heap.pageHeap().lock.unlock();
                }
            }
        });
        Thread reader = Thread.ofPlatform().start(() -> {
            while (!stop.get()) {
                new HeapStatistics(heap).snapshot();
                heap.releaseMemory();
                // The profiler's monitor, which sampled allocations and frees take.
                try {
                    heap.writeHeapProfile(OutputStream.nullOutputStream());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        });
        AtomicReference<Throwable> failure = new AtomicReference<>();
        int[] overflows = new int[1];
        Thread worker = Thread.ofVirtual().start(() -> {
            try {
                int depth = deepEnoughToOverflowAPark();
                long[] live = new long[64];
                SplittableRandom random = new SplittableRandom(31);
                for (int op = 0; op < OPERATIONS; op++) {
                    int i = random.nextInt(live.length);
                    long address = live[i];
                    try {
                        if (address != 0) {
                            live[i] = 0;
                            dive(0, depth, new Bottom(heap, address, 0, null));
                        } else {
                            long size = random.nextInt(4) == 0 ? 1 + random.nextInt(2 << 20) : 8 + random.nextInt(64 << 10);
                            live[i] = dive(0, depth, new Bottom(heap, 0, size, null));
                        }
                    } catch (StackOverflowError e) {
                        overflows[0]++;
                    }
                    if (op % 200 == 0) {
                        heap.verify();
                    }
                }
                for (long address : live) {
                    if (address != 0) {
                        heap.free(address);
                    }
                }
                heap.verify();
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        worker.join(TimeUnit.MINUTES.toMillis(2));
        stop.set(true);
        lockHolder.join();
        reader.join();
        assertThat(worker.isAlive()).as("the worker finished").isFalse();
        assertThat(failure.get()).isNull();
        assertThat(overflows[0]).as("allocations and frees that threw StackOverflowError").isZero();
        assertThat(new HeapStatistics(heap).snapshot().heapObjects()).isZero();
        heap.close();
    }

    /**
     * The waits themselves, where the JDK's park would overflow: each returns once the other thread
     * is done. The heap's ({@link LockWaits}, {@link StripeLock}) and those it relies on the JDK
     * for: a monitor (the profiler's) and a join of a platform thread (the scavenger's, at close).
     */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"lock", "stripe lock", "monitor", "join"})
    void aDeepVirtualThreadsWaitReturnsOnceTheOtherThreadIsDone(String wait) throws Exception {
        ReentrantLock lock = new ReentrantLock();
        StripeLock stripeLock = new StripeLock();
        AtomicBoolean done = new AtomicBoolean();
        CountDownLatch started = new CountDownLatch(1);
        // Counted down by the worker at the bottom of its stack, just before it waits.
        CountDownLatch arrived = new CountDownLatch(1);
        Object monitor = new Object();
        Thread other = Thread.ofPlatform().start(() -> {
            lock.lock();
            stripeLock.lock();
            synchronized (monitor) {
                started.countDown();
                try {
                    arrived.await();
                    // Long enough for the worker to be waiting, not a measurement.
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                done.set(true);
            }
            stripeLock.unlock();
            lock.unlock();
        });
        started.await();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread worker = Thread.ofVirtual().start(() -> {
            try {
                int depth = deepEnoughToOverflowAPark();
                Runnable waiting = switch (wait) {
                    case "lock" -> () -> {
                        LockWaits.lock(lock);
                        assertThat(done).isTrue();
                        assertThat(lock.isHeldByCurrentThread()).isTrue();
                        lock.unlock();
                    };
                    case "stripe lock" -> () -> {
                        stripeLock.lock();
                        assertThat(done).isTrue();
                        stripeLock.unlock();
                    };
                    case "monitor" -> () -> {
                        synchronized (monitor) {
                            assertThat(done).isTrue();
                        }
                    };
                    default -> () -> {
                        try {
                            other.join();
                        } catch (InterruptedException e) {
                            throw new AssertionError(e);
                        }
                        assertThat(other.isAlive()).isFalse();
                    };
                };
                dive(0, depth, new Bottom(null, 0, 0, () -> {
                    arrived.countDown();
                    waiting.run();
                }));
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        worker.join(TimeUnit.MINUTES.toMillis(1));
        other.join();
        assertThat(worker.isAlive()).isFalse();
        assertThat(failure.get()).isNull();
    }

    /**
     * A depth at which a park overflows: the first of 3/5, 3/4 and 9/10 of the deepest {@link #dive}
     * this virtual thread can make. (This test would not test the waits without one.)
     */
    private static int deepEnoughToOverflowAPark() throws InterruptedException {
        // Compiled first, so that the probe measures the frames the operations will run in.
        Bottom nothing = new Bottom(null, 0, 0, null);
        for (int i = 0; i < 20_000; i++) {
            dive(0, 20, nothing);
        }
        int low = 0;
        int high = 1 << 20;
        while (low < high) {
            int mid = (low + high + 1) >>> 1;
            try {
                dive(0, mid, nothing);
                low = mid;
            } catch (StackOverflowError tooDeep) {
                high = mid - 1;
            }
        }
        for (int fifth : new int[] {12, 15, 18}) {
            int depth = low * fifth / 20;
            if (parkOverflows(depth)) {
                return depth;
            }
        }
        throw new AssertionError("no park overflowed down to 9/10 of " + low + " frames");
    }

    /** Whether a wait for a lock that another thread holds, {@code depth} frames down, overflows. */
    private static boolean parkOverflows(int depth) throws InterruptedException {
        ReentrantLock held = new ReentrantLock();
        CountDownLatch holding = new CountDownLatch(1);
        // Counted down at the bottom of the stack just before the lock, so that from then on the
        // caller is WAITING only if its park worked.
        CountDownLatch locking = new CountDownLatch(1);
        AtomicBoolean overflowed = new AtomicBoolean();
        Thread caller = Thread.currentThread();
        Thread holder = Thread.ofPlatform().start(() -> {
            held.lock();
            try {
                holding.countDown();
                locking.await();
                // Until the caller's park either threw or worked.
                while (!overflowed.get() && caller.getState() != Thread.State.WAITING) {
                    Thread.onSpinWait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                held.unlock();
            }
        });
        holding.await();
        try {
            dive(0, depth, new Bottom(null, 0, 0, () -> {
                locking.countDown();
                held.lock();
                held.unlock();
            }));
            return false;
        } catch (StackOverflowError expected) {
            overflowed.set(true);
            return true;
        } finally {
            holder.join();
        }
    }

    /** Runs {@code bottom} {@code target} frames down, and returns what it returns. */
    private static long dive(int depth, int target, Bottom bottom) {
        if (depth < target) {
            return dive(depth + 1, target, bottom);
        }
        return bottom.run();
    }
}
