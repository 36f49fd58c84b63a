package dev.spanheap.internal;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Linux's calls, except that the chosen one ({@code commit} or {@code decommit}), once armed,
 * announces itself and then waits until the test lets it go.
 */
final class BlockingOsMemory implements OsMemory {
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
    public long reserve(long bytes) {
        return LinuxOsMemory.INSTANCE.reserve(bytes);
    }

    @Override
    public void commit(long address, long bytes) {
        maybeWait(true);
        LinuxOsMemory.INSTANCE.commit(address, bytes);
    }

    @Override
    public void decommit(long address, long bytes) {
        maybeWait(false);
        LinuxOsMemory.INSTANCE.decommit(address, bytes);
    }

    @Override
    public void unmap(long address, long bytes) {
        LinuxOsMemory.INSTANCE.unmap(address, bytes);
    }
}
