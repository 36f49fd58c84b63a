package dev.spanheap;

import dev.spanheap.internal.Heap;
import dev.spanheap.internal.HeapConfig;
import dev.spanheap.internal.HeapStatistics;
import dev.spanheap.internal.LinuxOsMemory;
import dev.spanheap.internal.PageHeap;
import dev.spanheap.internal.Pages;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.util.Objects;

/**
 * An off-heap memory allocator: size classes, per-thread caches, shared central lists and a page
 * heap of spans over address space reserved with {@code mmap}, in the manner of the Go runtime and
 * TCMalloc.
 *
 * <pre>{@code
 * try (Spanheap heap = Spanheap.create()) {
 *     MemorySegment buffer = heap.allocate(4096);
 *     buffer.set(ValueLayout.JAVA_LONG, 0, 42L);
 *     heap.free(buffer);
 * }
 * }</pre>
 *
 * <p>Blocks are freed explicitly with {@link #free(MemorySegment)} or {@link #free(long)}, from any
 * thread. Every method is thread-safe. Segments returned are valid until the heap is closed;
 * after {@link #close()} accessing them throws {@link IllegalStateException} rather than touching
 * unmapped memory.
 *
 * <p>Alignment: every block is aligned to the requested alignment (any power of two), blocks of
 * 16 bytes or more to at least 16 bytes, smaller blocks to at least the largest power of two not
 * above their size.
 *
 * <p>Size 0: a zero-size request returns a zero-length segment backed by the smallest block, so
 * every allocation has its own address, as with {@code malloc(0)}. Free it like any other block;
 * freeing it twice is a double free.
 *
 * <p>Errors: negative sizes, sizes above the heap's limit and alignments that are not powers of two
 * throw {@link IllegalArgumentException}; so does freeing an address this heap did not hand out, an
 * address inside a block, or {@link MemorySegment#NULL}. Freeing a block twice throws
 * {@link IllegalStateException} (always for blocks over 32 KiB; for smaller blocks whenever the
 * block was not handed out again in between, and in every case with {@link Builder#checked}). Using
 * the heap after {@code close()} throws {@link IllegalStateException}. Running out of the heap's
 * limit throws {@link OutOfMemoryError} with the request, the limit and what is in use. After any
 * of these exceptions the heap is unchanged and keeps working.
 */
public final class Spanheap implements SegmentAllocator, AutoCloseable {

    private final Heap heap;
    private final HeapStatistics statistics;

    private Spanheap(Heap heap) {
        this.heap = heap;
        this.statistics = new HeapStatistics(heap);
    }

    /** A heap with the defaults: a 64 GiB limit, unchecked frees. */
    public static Spanheap create() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Allocates {@code byteSize} bytes aligned to {@code byteAlignment}; contents unspecified. */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        long address = heap.allocate(byteSize, byteAlignment);
        return heap.segment(address, byteSize);
    }

    /** Allocates {@code byteSize} bytes that read as zero. */
    public MemorySegment allocateZeroed(long byteSize) {
        long address = heap.allocateZeroed(byteSize);
        return heap.segment(address, byteSize);
    }

    /** Frees the block that {@code segment} starts at. */
    public void free(MemorySegment segment) {
        Objects.requireNonNull(segment, "segment");
        if (segment.address() == 0) {
            heap.checkOpen();
            throw new IllegalArgumentException("free of MemorySegment.NULL");
        }
        heap.free(segment.address());
    }

    /** Allocates {@code byteSize} bytes and returns the raw address; never 0. */
    public long malloc(long byteSize) {
        return heap.allocate(byteSize, 1);
    }

    /** Frees the block at {@code address}, as returned by {@link #malloc} or a segment's address. */
    public void free(long address) {
        heap.free(address);
    }

    /** The bytes usable at {@code address}: at least the size that was requested. */
    public long usableSize(long address) {
        return heap.usableSize(address);
    }

    /**
     * A handle for the calling platform thread that skips the per-call thread-local lookup; see
     * {@link LocalHeap}. Virtual threads cannot have one (they share striped caches).
     */
    public LocalHeap localHeap() {
        return new LocalHeap(heap);
    }

    /** A snapshot of what the heap holds; cheap, and it never stops allocating threads. */
    public MemStats memStats() {
        return statistics.snapshot();
    }

    /**
     * Gives the physical memory of every free page back to the OS now, like Go's
     * {@code debug.FreeOSMemory}; the address space is kept and reused. Flushes the calling
     * thread's cache first. Returns the bytes released by this call.
     */
    public long releaseMemory() {
        return heap.releaseMemory();
    }

    /**
     * Returns the calling thread's cached free blocks to the shared lists. Threads that end do this
     * by themselves; this is for long-lived threads that stop allocating.
     */
    public void flushThreadCache() {
        heap.flushThreadCache();
    }

    /**
     * Walks every internal structure and checks its invariants, throwing
     * {@link IllegalStateException} naming the first broken one. Slow; for tests and diagnosis.
     */
    public void verify() {
        heap.verify();
    }

    /** Unmaps all memory. Segments handed out become inaccessible. Idempotent. */
    @Override
    public void close() {
        heap.close();
    }

    /** Options for a {@link Spanheap}. */
    public static final class Builder {

        private long maxHeapSize = HeapConfig.DEFAULT_MAX_HEAP_BYTES;
        private long threadCacheSize = HeapConfig.DEFAULT_THREAD_CACHE_BYTES;
        private long totalCacheSize = HeapConfig.DEFAULT_TOTAL_CACHE_BYTES;
        private boolean checked;
        private boolean scavenger = true;
        private int retainPercent = HeapConfig.Scavenging.DEFAULT_RETAIN_PERCENT;
        private long softLimit;

        private Builder() {
        }

        /**
         * Whether a background thread gives free memory back to the OS (default on). Off, memory
         * returns only through {@link Spanheap#releaseMemory()} and the soft limit.
         */
        public Builder scavenger(boolean enabled) {
            this.scavenger = enabled;
            return this;
        }

        /**
         * How much memory the scavenger keeps, as a percentage of the recent peak of memory in use
         * (default 110, Go's rule). Higher keeps more pages ready for reuse; 100 returns everything
         * beyond the peak.
         */
        public Builder retainPercent(int percent) {
            if (percent < 100) {
                throw new IllegalArgumentException("retainPercent must be at least 100: " + percent);
            }
            this.retainPercent = percent;
            return this;
        }

        /**
         * A soft limit on the memory the heap holds, like Go's GOMEMLIMIT (default none): the
         * scavenger keeps retained memory under 95% of it, and before the heap grows past it, free
         * pages are released first. Allocation beyond it still succeeds up to
         * {@link #maxHeapSize}, the hard limit.
         */
        public Builder softLimit(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("softLimit must not be negative: " + bytes);
            }
            this.softLimit = bytes;
            return this;
        }

        /**
         * The most memory the heap may hold, in bytes (default 64 GiB). This much address space is
         * reserved up front; physical memory is used only as blocks are touched.
         */
        public Builder maxHeapSize(long bytes) {
            if (bytes < Pages.SIZE) {
                throw new IllegalArgumentException("maxHeapSize must be at least one page (8192 bytes): " + bytes);
            }
            this.maxHeapSize = bytes;
            return this;
        }

        /** The most bytes one thread's cache may hold (default 4 MiB). */
        public Builder threadCacheSize(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("threadCacheSize must not be negative: " + bytes);
            }
            this.threadCacheSize = bytes;
            return this;
        }

        /** The most bytes all thread caches together may hold (default 32 MiB). */
        public Builder totalCacheSize(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("totalCacheSize must not be negative: " + bytes);
            }
            this.totalCacheSize = bytes;
            return this;
        }

        /**
         * Detect every double free of small blocks, at the cost of an atomic update of an
         * allocation bitmap on each allocate and free (default off).
         */
        public Builder checked(boolean checked) {
            this.checked = checked;
            return this;
        }

        public Spanheap build() {
            HeapConfig.Scavenging defaults = HeapConfig.Scavenging.defaults();
            HeapConfig.Scavenging scavenging = new HeapConfig.Scavenging(scavenger, retainPercent, softLimit,
                    defaults.windowNanos(), defaults.clock(), defaults.sleeper());
            return new Spanheap(new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, maxHeapSize,
                    PageHeap.DEFAULT_COMMIT_STEP_PAGES, threadCacheSize, totalCacheSize, checked, scavenging)));
        }
    }
}
