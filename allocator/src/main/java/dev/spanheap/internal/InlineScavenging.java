package dev.spanheap.internal;

/**
 * What the page heap asks the scavenger on an allocating or freeing thread: how many bytes of free
 * pages to release now rather than leave to the paced background thread. Before the heap grows,
 * so that growing does not take retained memory past the scavenger's goal (Go's heap-growth
 * scavenging) or past the soft limit (Go's GOMEMLIMIT); after a large block is freed, so that its
 * pages do not stay resident past the goal (glibc gives a large block's pages back in its
 * {@code free}, too). The {@link Scavenger} answers; the page heap knows only this, so the lower
 * rung does not depend on the upper one. Both are called with the page heap's lock held; the
 * release itself runs outside it.
 */
interface InlineScavenging {

    /**
     * Bytes to release before committing {@code growthBytes} more, with {@code retainedBytes}
     * held from the OS now and {@code inUseBytes} of pages in spans; 0 when growing stays within the
     * goal and the limit.
     */
    long beforeGrowth(long retainedBytes, long growthBytes, long inUseBytes);

    /** Bytes to release after a large block was freed: how far {@code retainedBytes} is over the goal; 0 if not. */
    long afterLargeFree(long retainedBytes, long inUseBytes);
}
