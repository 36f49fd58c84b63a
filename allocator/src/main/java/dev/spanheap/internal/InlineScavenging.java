package dev.spanheap.internal;

/**
 * What the page heap asks the scavenger on an allocating or freeing thread: how many bytes of free
 * pages to release now rather than leave to the paced background thread. Before the heap grows,
 * so that growing does not take retained memory past the scavenger's goal (Go's heap-growth
 * scavenging) or past the soft limit (Go's GOMEMLIMIT); after a free sends a span of
 * {@link PageHeap#INLINE_SCAVENGE_MIN_BYTES} or more to the page heap (a large block, or a class's
 * span the central list does not keep), so that free pages do not stay resident past the goal
 * while the paced background thread catches up (glibc gives a large block's pages back in its
 * {@code free}, too). The {@link Scavenger} answers; the page heap knows only this, so the lower
 * rung does not depend on the upper one. Both are called with the page heap's lock held; the
 * release itself runs outside it, and no caller holds another lock that allocating threads need
 * (a central list cuts its new span with its own lock dropped).
 */
interface InlineScavenging {

    /**
     * Bytes to release before committing {@code growthBytes} more, with {@code retainedBytes}
     * held from the OS now and {@code inUseBytes} of pages in spans; 0 when growing stays within the
     * limit and the goal.
     */
    long beforeGrowth(long retainedBytes, long growthBytes, long inUseBytes);

    /** Bytes to release after a free sent a large span to the page heap: how far {@code retainedBytes} is over the goal; 0 if not. */
    long afterLargeFree(long retainedBytes, long inUseBytes);

    /**
     * Whether {@code retainedBytes} would pass what the soft limit allows: then releases may break
     * transparent huge pages up (see {@link PageHeap#release(long, boolean)}); false with no limit.
     */
    boolean overSoftLimit(long retainedBytes);
}
