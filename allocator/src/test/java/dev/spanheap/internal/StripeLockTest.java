package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class StripeLockTest {

    /** A plain counter, read and written only under the lock. */
    private long counter;

    @Test
    void platformAndVirtualThreadsNeverHoldItTogether() throws InterruptedException {
        StripeLock lock = new StripeLock();
        int perThread = 200_000;
        CountDownLatch start = new CountDownLatch(1);
        Runnable work = () -> {
            try {
                start.await();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            for (int i = 0; i < perThread; i++) {
                lock.lock();
                try {
                    // A lost update shows only if two threads are inside at once.
                    long seen = counter;
                    if ((i & 1023) == 0) {
                        Thread.onSpinWait();
                    }
                    counter = seen + 1;
                } finally {
                    lock.held = 0;
                }
            }
        };
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            threads.add(Thread.ofPlatform().start(work));
            threads.add(Thread.ofVirtual().start(work));
        }
        start.countDown();
        for (Thread thread : threads) {
            assertThat(thread.join(Duration.ofMinutes(2))).as("thread finished").isTrue();
        }
        assertThat(counter).isEqualTo(6L * perThread);
        assertThat(lock.held).as("released").isZero();
    }

    @Test
    void aWaiterEntersOnlyOnceTheHolderReleases() throws InterruptedException {
        StripeLock lock = new StripeLock();
        lock.lock();
        AtomicBoolean entered = new AtomicBoolean();
        Thread waiter = Thread.ofVirtual().start(() -> {
            lock.lock();
            entered.set(true);
            lock.held = 0;
        });
        // Parked (it has spun through and waits for its turn), or, if the lock let it in, ended.
        while (waiter.isAlive() && waiter.getState() != Thread.State.TIMED_WAITING) {
            Thread.onSpinWait();
        }
        assertThat(entered).as("entered while the lock was held").isFalse();
        lock.held = 0;
        assertThat(waiter.join(Duration.ofSeconds(30))).as("waiter finished").isTrue();
        assertThat(entered).isTrue();
        assertThat(lock.held).isZero();
    }
}
