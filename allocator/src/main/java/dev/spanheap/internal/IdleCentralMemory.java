package dev.spanheap.internal;

/**
 * Memory held idle above the page heap (caches of ended threads, central transfer stacks, kept
 * empty spans), which the {@link Scavenger} returns to the page heap before it releases pages. The
 * heap provides it; the scavenger knows only this.
 */
interface IdleCentralMemory {

    /** Returns the idle memory above the page heap to it. */
    void releaseIdleCentralMemory();
}
