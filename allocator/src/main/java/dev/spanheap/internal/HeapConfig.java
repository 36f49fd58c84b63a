package dev.spanheap.internal;

/**
 * What a {@link Heap} is built from: the OS layer (a fake in tests), the size of the reservation,
 * the commit step, the thread-cache budgets and whether every free is checked.
 */
public record HeapConfig(OsMemory os, long maxHeapBytes, int commitStepPages, long threadCacheBytes,
                         long totalCacheBytes, boolean checked) {

    public static final long DEFAULT_MAX_HEAP_BYTES = 64L << 30;
    /** TCMalloc's defaults: at most 4 MiB in one thread's cache, 32 MiB in all of them. */
    public static final long DEFAULT_THREAD_CACHE_BYTES = 4L << 20;
    public static final long DEFAULT_TOTAL_CACHE_BYTES = 32L << 20;

    public static HeapConfig defaults() {
        return new HeapConfig(LinuxOsMemory.INSTANCE, DEFAULT_MAX_HEAP_BYTES, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                DEFAULT_THREAD_CACHE_BYTES, DEFAULT_TOTAL_CACHE_BYTES, false);
    }
}
