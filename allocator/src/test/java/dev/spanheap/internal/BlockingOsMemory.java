package dev.spanheap.internal;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Linux's calls, except that the chosen one ({@code commit} or {@code decommit}), once armed,
 * announces itself and then waits until the test lets it go.
 */
final class BlockingOsMemory extends ForwardingOsMemory {
    final CountDownLatch entered = new CountDownLatch(1);
    final CountDownLatch proceed = new CountDownLatch(1);
    private final boolean blockCommit;
    volatile boolean armed;

    BlockingOsMemory(boolean blockCommit, boolean armed) {
        this.blockCommit = blockCommit;
        this.armed = armed;
    }

    private void maybeWait(boolean isCommit) {
        if (!armed || isCommit != blockCommit) {
            return;
        }
        entered.countDown();
        try {
            if (!proceed.await(2, TimeUnit.MINUTES)) {
                throw new IllegalStateException("the test never let the system call go");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void commit(long address, long bytes) {
        maybeWait(true);
        super.commit(address, bytes);
    }

    @Override
    public void decommit(long address, long bytes) {
        maybeWait(false);
        super.decommit(address, bytes);
    }
}
