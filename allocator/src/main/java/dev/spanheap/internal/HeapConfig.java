package dev.spanheap.internal;

import java.util.function.LongSupplier;

/**
 * What a {@link Heap} is built from: the OS layer (a fake in tests), the size of the reservation,
 * the commit step, the thread-cache budgets, whether every free is checked, the scavenger's
 * settings, the heap profile's sampling rate ({@link HeapProfiler}; 0 for none), the heap's name
 * in reports, JFR events and JMX (null: a generated one), whether the heap asks for transparent
 * huge pages (see {@link PageHeap#release}), and how many virtual threads may hold a cache of their
 * own at once (see {@link ThreadCaches}).
 */
public record HeapConfig(OsMemory os, long maxHeapBytes, int commitStepPages, long threadCacheBytes,
                         long totalCacheBytes, boolean checked, Scavenging scavenging, long profileRate,
                         String name, boolean hugePages, int virtualThreadCaches) {

    /** The default number of virtual threads' caches ({@link #DEFAULT_VIRTUAL_THREAD_CACHES}). */
    public HeapConfig(OsMemory os, long maxHeapBytes, int commitStepPages, long threadCacheBytes,
                      long totalCacheBytes, boolean checked, Scavenging scavenging, long profileRate,
                      String name, boolean hugePages) {
        this(os, maxHeapBytes, commitStepPages, threadCacheBytes, totalCacheBytes, checked, scavenging, profileRate,
                name, hugePages, DEFAULT_VIRTUAL_THREAD_CACHES);
    }

    /** Small pages only, as every heap before {@code transparentHugePages} was. */
    public HeapConfig(OsMemory os, long maxHeapBytes, int commitStepPages, long threadCacheBytes,
                      long totalCacheBytes, boolean checked, Scavenging scavenging, long profileRate,
                      String name) {
        this(os, maxHeapBytes, commitStepPages, threadCacheBytes, totalCacheBytes, checked, scavenging, profileRate,
                name, false);
    }

    public static final long DEFAULT_MAX_HEAP_BYTES = 64L << 30;
    /**
     * 8 TiB: 2^30 pages. The page heap counts pages in an {@code int}, and an aligned request's
     * pages plus its alignment slack (less than the limit) must fit one too.
     */
    public static final long MAX_MAX_HEAP_BYTES = 1L << 43;
    /**
     * At most 24 MiB in one thread's cache and 32 MiB in all of them (TCMalloc's total). A cache gets
     * no more than an equal share of the total among the caches holding budget (see CacheBudget),
     * so from eight busy threads on each has TCMalloc's 4 MiB; two busy threads get 16 MiB each, and
     * then keep their blocks of up to 1 MiB in their own caches: two threads doing 64 KiB-1 MiB pairs
     * took 17-18 ns per pair each this way, against 31 (1 thread) and 50 (2 threads) with 8 MiB and
     * 49 and 104 with 4 MiB, where every other pair went to the central lists (JMH, 2 forks).
     * A lone thread gets 24 MiB, of which its classes above 64 KiB may hold half (see ThreadCache's
     * BIG_CLASS_BYTES): Netty's pattern of buffers up to 64 KiB ran 12% faster than with 16 MiB, and
     * the fragmentation workload's peak did not move.
     */
    public static final long DEFAULT_THREAD_CACHE_BYTES = 24L << 20;
    public static final long DEFAULT_TOTAL_CACHE_BYTES = 32L << 20;
    /**
     * At most 16 live virtual threads hold a cache of their own at once; the others share the
     * carriers' stripes. A cache costs 73 KiB of Java heap, and the objects in all caches stay
     * within {@link #DEFAULT_TOTAL_CACHE_BYTES} however many there are, so 16 cost at most 1.2 MiB
     * of Java heap. A virtual thread per request ends soon and hands its cache to the next one.
     */
    public static final int DEFAULT_VIRTUAL_THREAD_CACHES = 16;
    /** Go's default MemProfileRate: one sample per 512 KiB allocated. */
    public static final long DEFAULT_PROFILE_RATE = HeapProfiler.DEFAULT_RATE;

    /**
     * The scavenger's settings: whether its background thread runs, the percentage of the recent
     * peak of in-use memory to retain, the soft limit (0: none), how far back "recent" reaches, its
     * clock and sleep (real ones, or a test's), and the most it retains whatever the recent peak, as
     * a percentage of what is in use now (see {@link Scavenger}).
     */
    public record Scavenging(boolean background, int retainPercent, long softLimitBytes, long windowNanos,
                             LongSupplier clock, Scavenger.Sleeper sleeper, int maxRetainPercent) {

        /** The settings with the default {@link #maxRetainPercent}. */
        public Scavenging(boolean background, int retainPercent, long softLimitBytes, long windowNanos,
                          LongSupplier clock, Scavenger.Sleeper sleeper) {
            this(background, retainPercent, softLimitBytes, windowNanos, clock, sleeper, DEFAULT_MAX_RETAIN_PERCENT);
        }

        /**
         * 3% over the recent peak. Go keeps 10% over its heap goal, but that goal already holds
         * GOGC's headroom; here the window's peak is the headroom (a burst's memory stays for a
         * window, so allocations that come back within it find their pages resident), and the 3%
         * is slack for free runs too small for the next requests. Measured on the garbage workload
         * of {@code ./compare memory}: RSS / live 1.06 mean, 1.13-1.14 max, against 1.12 and 1.21 at 110%.
         * The max varied far more between runs than those figures show: ten runs of that workload
         * later gave 1.19-1.27, which {@link #DEFAULT_MAX_RETAIN_PERCENT} bounds (README, Memory).
         */
        public static final int DEFAULT_RETAIN_PERCENT = 103;
        /**
         * 110% of what is in use now (or 8 MiB over it, if more: {@link Scavenger#MIN_HEADROOM_BYTES}),
         * the most retained whatever the recent peak. The window alone let a shrinking pool keep its
         * old peak for a second: on the garbage workload, RSS / live reached 1.19-1.27 at peak over ten
         * runs, 1.19-1.27 in five more taken beside five with this ceiling, which gave 1.117-1.118
         * (means 1.07-1.08 in both). The ceiling leaves about 15 MB free there, more than the next
         * 5-10 MB buffer needs, so the process faulted in about as many pages as before (345 000
         * against 328 000-343 000). What the cap releases is rate-limited
         * ({@link Scavenger#CAP_RELEASE_BYTES_PER_SECOND}): unlimited, it cost {@code ./soak} 20-25% of
         * its operations.
         */
        public static final int DEFAULT_MAX_RETAIN_PERCENT = 110;
        /** One second: RSS follows a drop in use within about a second, without thrashing on bursts. */
        public static final long DEFAULT_WINDOW_NANOS = 1_000_000_000L;

        public static Scavenging defaults() {
            return new Scavenging(true, DEFAULT_RETAIN_PERCENT, 0, DEFAULT_WINDOW_NANOS, System::nanoTime,
                    java.util.concurrent.TimeUnit.NANOSECONDS::sleep);
        }

        /** No background thread: cycles run only when a test (or the soft limit) asks. */
        public static Scavenging manual(LongSupplier clock) {
            return new Scavenging(false, DEFAULT_RETAIN_PERCENT, 0, DEFAULT_WINDOW_NANOS, clock, nanos -> { });
        }

        public Scavenging withSoftLimit(long bytes) {
            return new Scavenging(background, retainPercent, bytes, windowNanos, clock, sleeper, maxRetainPercent);
        }

        public Scavenging withMaxRetainPercent(int percent) {
            return new Scavenging(background, retainPercent, softLimitBytes, windowNanos, clock, sleeper, percent);
        }
    }

    /** No heap profile: the internal tests that pin page layouts must not meet a sampled span at random. */
    public HeapConfig(OsMemory os, long maxHeapBytes, int commitStepPages, long threadCacheBytes,
                      long totalCacheBytes, boolean checked, Scavenging scavenging) {
        this(os, maxHeapBytes, commitStepPages, threadCacheBytes, totalCacheBytes, checked, scavenging, 0, null);
    }

    public HeapConfig(OsMemory os, long maxHeapBytes, int commitStepPages, long threadCacheBytes,
                      long totalCacheBytes, boolean checked) {
        this(os, maxHeapBytes, commitStepPages, threadCacheBytes, totalCacheBytes, checked,
                Scavenging.manual(System::nanoTime));
    }

    /** This configuration with heap profiling at {@code rate} bytes per sample (0: off). */
    public HeapConfig withProfileRate(long rate) {
        return new HeapConfig(os, maxHeapBytes, commitStepPages, threadCacheBytes, totalCacheBytes, checked, scavenging,
                rate, name, hugePages, virtualThreadCaches);
    }

    /** This configuration with transparent huge pages asked for, or not. */
    public HeapConfig withHugePages(boolean enabled) {
        return new HeapConfig(os, maxHeapBytes, commitStepPages, threadCacheBytes, totalCacheBytes, checked, scavenging,
                profileRate, name, enabled, virtualThreadCaches);
    }

    /**
     * This configuration with at most {@code count} virtual threads' caches (0: every virtual thread
     * uses the stripes).
     */
    public HeapConfig withVirtualThreadCaches(int count) {
        return new HeapConfig(os, maxHeapBytes, commitStepPages, threadCacheBytes, totalCacheBytes, checked, scavenging,
                profileRate, name, hugePages, count);
    }

    public static HeapConfig defaults() {
        return new HeapConfig(LinuxOsMemory.INSTANCE, DEFAULT_MAX_HEAP_BYTES, PageHeap.DEFAULT_COMMIT_STEP_PAGES,
                DEFAULT_THREAD_CACHE_BYTES, DEFAULT_TOTAL_CACHE_BYTES, false, Scavenging.defaults(),
                DEFAULT_PROFILE_RATE, null);
    }
}
