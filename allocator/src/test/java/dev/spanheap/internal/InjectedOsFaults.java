package dev.spanheap.internal;

import dev.spanheap.OsMemoryException;
import java.util.SplittableRandom;

/**
 * An {@link OsMemory} over Linux's that fails on purpose: the n-th call (counting every call of
 * every kind from 0), or each call with a probability from a seeded random. A failed call does
 * nothing, as a refused system call does, and throws what {@link LinuxOsMemory} throws for ENOMEM.
 */
final class InjectedOsFaults implements OsMemory {

    private static final int ENOMEM = 12;

    private int failAt;
    private volatile boolean failEveryCall;
    private final SplittableRandom random;
    private final double rate;
    // Counters: the test's thread, or the scavenger's once the test waits on it.
    private volatile int calls;
    /** Calls made before {@link #disarm()}: the ones a fault could hit. */
    private volatile int armedCalls;
    private volatile int injected;
    private boolean armed = true;

    private InjectedOsFaults(int failAt, SplittableRandom random, double rate) {
        this.failAt = failAt;
        this.random = random;
        this.rate = rate;
    }

    /** Never fails; counts calls. */
    static InjectedOsFaults none() {
        return new InjectedOsFaults(-1, null, 0);
    }

    /** Fails call number {@code n} (from 0), whatever its kind. */
    static InjectedOsFaults atCall(int n) {
        return new InjectedOsFaults(n, null, 0);
    }

    /** Fails each call with probability {@code rate}, drawn from {@code seed}. */
    static InjectedOsFaults random(long seed, double rate) {
        return new InjectedOsFaults(-1, new SplittableRandom(seed), rate);
    }

    int calls() {
        return calls;
    }

    int armedCalls() {
        return armedCalls;
    }

    int injected() {
        return injected;
    }

    /** Fails every call from now on, from any thread. */
    void failEveryCall() {
        failEveryCall = true;
    }

    /** Fails the next call, whatever its kind. */
    void failNextCall() {
        failAt = calls;
    }

    /** Stops injecting: the fault is gone. */
    void disarm() {
        armed = false;
    }

    private void maybeFail(String call, long bytes) {
        int index = calls++;
        if (armed) {
            armedCalls++;
        }
        boolean fail = failEveryCall || index == failAt || random != null && random.nextDouble() < rate;
        if (armed && fail) {
            injected++;
            throw new OsMemoryException(call, bytes, ENOMEM, "Cannot allocate memory (injected)");
        }
    }

    @Override
    public long reserve(long bytes) {
        maybeFail("mmap", bytes);
        return LinuxOsMemory.INSTANCE.reserve(bytes);
    }

    @Override
    public void commit(long address, long bytes) {
        maybeFail("mmap", bytes);
        LinuxOsMemory.INSTANCE.commit(address, bytes);
    }

    @Override
    public void decommit(long address, long bytes) {
        maybeFail("madvise", bytes);
        LinuxOsMemory.INSTANCE.decommit(address, bytes);
    }

    @Override
    public void unmap(long address, long bytes) {
        maybeFail("munmap", bytes);
        LinuxOsMemory.INSTANCE.unmap(address, bytes);
    }
}
