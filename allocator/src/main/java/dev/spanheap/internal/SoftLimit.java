package dev.spanheap.internal;

/**
 * What the page heap asks before it grows, when the heap has a soft limit (Go's GOMEMLIMIT): how
 * many bytes of free pages to release first. The {@link Scavenger} answers; the page heap knows
 * only this, so the lower rung does not depend on the upper one.
 */
interface SoftLimit {

    /**
     * Bytes to release before committing {@code growthBytes} more, with {@code retainedBytes}
     * held from the OS now; 0 when growing stays within the limit. Called with the page heap's
     * lock held.
     */
    long beforeGrowth(long retainedBytes, long growthBytes);
}
