package dev.spanheap.internal;

/**
 * Memory held idle above the page heap (caches of ended threads, central transfer stacks, kept
 * empty spans), which the {@link Scavenger} returns to the page heap before it releases pages. The
 * heap provides it; the scavenger knows only this.
 */
interface IdleCentralMemory {

    /** Returns the idle memory above the page heap to it. */
    void releaseIdleCentralMemory();

    /**
     * About how many bytes {@link #releaseIdleCentralMemory} would return now, read without locks:
     * the page heap counts them as in use, and the scavenger's peak must not.
     */
    default long idleCentralBytes() {
        return 0;
    }
}
