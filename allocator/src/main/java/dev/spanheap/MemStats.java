package dev.spanheap;

import java.util.List;

/**
 * A snapshot of what a {@link Spanheap} holds, with the field names and meanings of Go's
 * {@code runtime.MemStats}. All sizes are in bytes.
 *
 * <p>With no allocation in flight, every snapshot satisfies {@code heapSys == heapInuse + heapIdle},
 * {@code heapReleased <= heapIdle}, {@code heapObjects == mallocs - frees} and
 * {@code heapAlloc <= heapInuse}. While other threads allocate, counts may trail by a few
 * operations; reading a snapshot never stops them. Frees are read before allocations, so every
 * block live throughout the read is counted (blocks allocated during it may be counted too) and
 * {@code heapObjects} is never negative; a free in flight can be missed once per thread and size
 * class.
 *
 * @param sys          all memory obtained from the OS: the heap's committed pages plus metadata
 * @param heapSys      committed heap pages: {@code heapInuse + heapIdle}
 * @param heapAlloc    bytes of live blocks (each counted at its size class, or its whole pages)
 * @param heapInuse    bytes of spans holding at least one block, cached blocks included;
 *                     {@code heapInuse - heapAlloc} bounds fragmentation and cache contents
 * @param heapIdle     bytes of free spans; {@code heapIdle - heapReleased} could be returned to the OS
 * @param heapReleased bytes of free spans whose physical memory has been given back to the OS
 * @param heapObjects  live blocks
 * @param mallocs      blocks allocated since the heap was created
 * @param frees        blocks freed since the heap was created
 * @param totalAlloc   bytes allocated since the heap was created (not reduced by frees)
 * @param spanMetadata bytes of span records in use, and of the page map and the free-flag table for the
 *                     committed pages (Go's MSpanInuse); for the latter two this is address space, resident
 *                     only where small-object spans have been since their pages were last released
 * @param cacheMetadata bytes of thread-cache structures (Go's MCacheInuse)
 * @param cachedBytes  bytes of free blocks held for reuse above the page heap: in thread caches, in the
 *                     central transfer stacks and as cached large spans (all counted in heapInuse)
 * @param bySize       per size class: object size, mallocs and frees
 */
public record MemStats(long sys, long heapSys, long heapAlloc, long heapInuse, long heapIdle, long heapReleased,
                       long heapObjects, long mallocs, long frees, long totalAlloc, long spanMetadata,
                       long cacheMetadata, long cachedBytes, List<SizeClassStats> bySize) {

    public MemStats {
        bySize = List.copyOf(bySize);
    }

    /** Allocation counts of one size class. */
    public record SizeClassStats(int size, long mallocs, long frees) {
    }

    /** Bytes that could be returned to the OS right now: {@code heapIdle - heapReleased}. */
    public long heapIdleResident() {
        return heapIdle - heapReleased;
    }

    /** One log line, in MiB. */
    @Override
    public String toString() {
        return String.format("MemStats[sys=%s heapSys=%s heapAlloc=%s heapInuse=%s heapIdle=%s heapReleased=%s"
                        + " objects=%d mallocs=%d frees=%d totalAlloc=%s metadata=%s cached=%s]",
                mib(sys), mib(heapSys), mib(heapAlloc), mib(heapInuse), mib(heapIdle), mib(heapReleased),
                heapObjects, mallocs, frees, mib(totalAlloc), mib(spanMetadata + cacheMetadata), mib(cachedBytes));
    }

    private static String mib(long bytes) {
        return String.format("%.1fMiB", bytes / (1024.0 * 1024.0));
    }
}
