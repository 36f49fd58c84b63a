package dev.spanheap;

import dev.spanheap.internal.Heap;
import dev.spanheap.internal.HeapAccess;
import dev.spanheap.internal.HeapArena;
import dev.spanheap.internal.HeapConfig;
import dev.spanheap.internal.HeapSegments;
import dev.spanheap.internal.HeapStatistics;
import dev.spanheap.internal.LinuxOsMemory;
import dev.spanheap.internal.PageHeap;
import dev.spanheap.internal.Pages;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.Arena;
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
 * unmapped memory. A segment used after its block is freed is not caught by default (that would
 * cost a JDK scope per block); {@link Builder#checked} catches it.
 *
 * <p>For code written against {@link Arena} (jextract bindings, {@code arena.allocateFrom(...)}
 * before a downcall), {@link #newConfinedArena()} and {@link #newSharedArena()} give arenas whose
 * memory comes from this heap, with the JDK arenas' rules: every segment throws after the arena
 * closes. {@link #global()} is one heap for the whole process.
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
 * {@link IllegalStateException} (always for blocks over 1 MiB; for smaller blocks whenever the
 * block was not handed out again in between, and in every case with {@link Builder#checked}). Using
 * the heap after {@code close()} throws {@link IllegalStateException}. Running out of the heap's
 * limit throws {@link OutOfMemoryError} with the request, the limit and what is in use. After any
 * of these exceptions the heap is unchanged and keeps working.
 */
public final class Spanheap implements SegmentAllocator, AutoCloseable {

    private final Heap heap;
    /** The heap's segments, held here so that the segment API reaches them with one load. */
    private final HeapSegments segments;
    /** The heap's slot table, kept here so that the fast paths reach it in one load (see Heap#mirrorSlotTable). */
    private long[][] slotTable;
    /** {@code slotTable.length - 1}, in a field of its own (see Heap#slotsOf). */
    private int slotMask;
    /** The heap's base and page map's address, copied here for the frees (see Heap#free(long[][], int, long, long, long)). */
    private final long base;
    private final long pageMapAddress;
    private final HeapStatistics statistics;
    private final boolean global;
    /** The MXBean's registration, when the builder named one; unregistered at close. */
    private volatile SpanheapManagement management;

    static {
        HeapAccess.register(spanheap -> ((Spanheap) spanheap).heap);
    }

    private Spanheap(Heap heap, boolean global) {
        this.heap = heap;
        this.segments = heap.segments();
        this.base = heap.base();
        this.pageMapAddress = heap.pageMapAddress();
        this.statistics = new HeapStatistics(heap);
        this.global = global;
        // Last: the table's growth on another thread may call back as soon as this is registered.
        heap.mirrorSlotTable(table -> {
            slotTable = table;
            slotMask = table.length - 1;
        });
    }

    /** The global heap once made, by {@link GlobalHeap}'s initialisation or by a later retry. */
    private static volatile Spanheap globalHeap;

    /**
     * The global heap as a constant: {@link Spanheap#global()} reads {@link #HEAP}, which the JIT
     * folds, so a loop on the global heap reaches its fields as it would a {@code static final}
     * heap's. Reading a volatile field and testing it for null on every call cost a pair 0.5-0.8 ns,
     * about 10% (JMH {@code PairBenchmark}'s {@code spanheap-global} peer, 16 B and 64 KiB).
     *
     * <p>Its initialisation cannot fail: a class whose initialisation throws stays failed, and every
     * later call would throw a bare {@link NoClassDefFoundError} instead of the reason. A refusal
     * leaves {@link #HEAP} null, and {@link Spanheap#global()} retries on every call until the heap
     * is made, then reads it from {@link Spanheap#globalHeap}.
     */
    private static final class GlobalHeap {
        static final Spanheap HEAP = madeOrNull();

        private static Spanheap madeOrNull() {
            try {
                return createGlobal();
            } catch (RuntimeException | Error refused) {
                // Retried, and thrown with its reason, by global()'s slow path.
                return null;
            }
        }
    }

    /**
     * The process-wide heap, created with the defaults on first use, for code that wants
     * {@code malloc}-like convenience without owning a heap. It lives as long as the process; its
     * {@link #close()} throws {@link UnsupportedOperationException}. A system property that sets one
     * of its defaults and does not parse fails its creation with the {@link IllegalArgumentException}
     * that {@link #create()} would throw, naming the property; so does every later call, until the
     * heap can be made.
     */
    public static Spanheap global() {
        Spanheap heap = GlobalHeap.HEAP;
        return heap != null ? heap : globalAfterRefusal();
    }

    /** {@link #global()} once the first attempt was refused: the heap a retry made, or a retry now. */
    private static Spanheap globalAfterRefusal() {
        Spanheap heap = globalHeap;
        return heap != null ? heap : createGlobal();
    }

    private static synchronized Spanheap createGlobal() {
        if (globalHeap == null) {
            globalHeap = new Spanheap(new Builder().newHeap(), true);
        }
        return globalHeap;
    }

    /**
     * A heap with the defaults: a 64 GiB limit, unchecked frees, Go's profile rate; system
     * properties may change the last two (see {@link Builder#checked} and {@link Builder#profileRate}).
     */
    public static Spanheap create() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Allocates {@code byteSize} bytes aligned to {@code byteAlignment}; contents unspecified. */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        long address = heap.allocate(slotTable, slotMask, byteSize, byteAlignment);
        return segments.segment(address, byteSize);
    }

    /** Allocates {@code byteSize} bytes that read as zero. */
    public MemorySegment allocateZeroed(long byteSize) {
        long address = heap.allocateZeroed(byteSize);
        return segments.segment(address, byteSize);
    }

    /**
     * Frees the block that {@code segment} starts at: a segment from this heap's {@code allocate},
     * {@code allocateZeroed} or {@code reallocate}, or a block's address wrapped by
     * {@code MemorySegment.ofAddress}. A heap-backed arena's segments are refused (they go back when
     * the arena closes), and in checked mode so is any segment that is not its block's live one, such
     * as a stale segment whose block was freed and handed out again.
     */
    public void free(MemorySegment segment) {
        heap.free(slotTable, slotMask, segments.segmentAddress(segment, "free"), base, pageMapAddress);
    }

    /**
     * Resizes the block that {@code segment} starts at to {@code newByteSize} bytes and returns a
     * segment over it. The contents up to the smaller of the block's usable size and
     * {@code newByteSize} are kept. The block grows or shrinks in place when its usable size holds
     * {@code newByteSize} and it would be no more than half empty; otherwise it moves to a new block
     * (aligned as {@code allocate(newByteSize)} would be) and the old one is freed. Rejects what
     * {@link #free(MemorySegment)} rejects, with the same exceptions, and a negative size. In checked
     * mode the old segment stops working, whether or not the block moved.
     */
    public MemorySegment reallocate(MemorySegment segment, long newByteSize) {
        long address = heap.reallocate(segments.segmentAddress(segment, "reallocate"), newByteSize);
        return segments.segment(address, newByteSize);
    }

    /** {@link #reallocate(MemorySegment, long)} for a raw address; returns the block's address. */
    public long reallocate(long address, long newByteSize) {
        return heap.reallocate(address, newByteSize);
    }

    /**
     * A new arena confined to the calling thread whose memory comes from this heap: it behaves as
     * {@link Arena#ofConfined()} does (zeroed segments, any alignment, {@link WrongThreadException}
     * on other threads, every segment inaccessible after {@code close()}), and its close gives all
     * of its memory back to the heap at once. Small requests are carved from larger heap blocks,
     * so an arena costs a few allocations however many segments it hands out.
     *
     * @throws OutOfMemoryError if the heap cannot hold the arena's first block (2 KiB, taken when it
     *                          opens): on a full heap the opening is refused, not the first request
     */
    public Arena newConfinedArena() {
        return HeapArena.confined(heap);
    }

    /**
     * A new arena that any thread may use and close, like {@link Arena#ofShared()}, whose memory
     * comes from this heap; see {@link #newConfinedArena()}. As with the JDK's shared arenas,
     * closing it makes the JVM handshake every thread, so it costs microseconds: prefer a confined
     * arena for short lifetimes.
     *
     * @throws OutOfMemoryError as {@link #newConfinedArena()} does
     */
    public Arena newSharedArena() {
        return HeapArena.shared(heap);
    }

    /** Allocates {@code byteSize} bytes and returns the raw address; never 0. */
    public long malloc(long byteSize) {
        return heap.allocate(slotTable, slotMask, byteSize, 1);
    }

    /** Frees the block at {@code address}, as returned by {@link #malloc} or a segment's address. */
    public void free(long address) {
        heap.free(slotTable, slotMask, address, base, pageMapAddress);
    }

    /** The bytes usable at {@code address}: at least the size that was requested. */
    public long usableSize(long address) {
        return heap.usableSize(address);
    }

    /**
     * A handle for the calling platform thread that skips the per-call thread-local lookup; see
     * {@link LocalHeap}. Virtual threads cannot have one (only some of them have a cache of their
     * own, see {@link Builder#virtualThreadCaches}).
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
     * Writes the heap profile: a gzipped pprof protobuf ({@code profile.proto}) that
     * {@code go tool pprof} reads, with Go's heap-profile sample types {@code alloc_objects},
     * {@code alloc_space}, {@code inuse_objects} and {@code inuse_space} (the default), estimated
     * from the allocations sampled at {@link Builder#profileRate} and attributed to the Java stacks
     * that made them. The stream is not closed. With profiling off the profile has no samples.
     */
    public void writeHeapProfile(OutputStream out) throws IOException {
        Objects.requireNonNull(out, "out");
        heap.writeHeapProfile(out);
    }

    /** Bytes per heap-profile sample (see {@link Builder#profileRate}); 0 when profiling is off. */
    public long profileRate() {
        return heap.profileRate();
    }

    /**
     * The blocks in use now, as the report that {@link #close()} logs when blocks are still in use:
     * their count and bytes, and the allocation sites (with stacks) of the sampled ones among them,
     * largest first, like Arrow's allocator report.
     */
    public String leakReport() {
        return heap.leakReport();
    }

    /**
     * Walks every internal structure and checks its invariants, throwing
     * {@link IllegalStateException} naming the first broken one. Slow; for tests and diagnosis.
     *
     * <p>Call it while no other thread uses the heap (allocates, frees, or opens or closes an
     * arena). It reads other threads' caches and the structures their operations update step by
     * step without stopping them, so an operation in flight can read as a broken invariant: a
     * span being cut whose page map is not yet written, or a sample counted by the profiler but
     * not yet by its span. A report from a busy heap may be such an operation: verify again once
     * the other threads have stopped using it.
     */
    public void verify() {
        heap.verify();
    }

    /**
     * Gives all memory back to the OS at once. Segments handed out become inaccessible; the
     * address space the heap never used is unmapped now, and the rest once this object is
     * collected (until then a raw address of the heap reads zeros rather than faulting), so a
     * closed heap costs no memory and little address space. Idempotent. Blocks still in use
     * are reported first, at WARNING, through the {@code dev.spanheap} {@link System.Logger} (see
     * {@link #leakReport()}), and the MXBean, if any, is unregistered. The
     * {@linkplain #global() global heap} cannot be closed: its close throws
     * {@link UnsupportedOperationException}, as {@code Arena.global().close()} does.
     */
    @Override
    public void close() {
        if (global) {
            throw new UnsupportedOperationException("the global Spanheap cannot be closed");
        }
        SpanheapManagement registered = management;
        if (registered != null) {
            management = null;
            registered.unregister();
        }
        heap.close();
    }

    /** Options for a {@link Spanheap}. */
    public static final class Builder {

        private long maxHeapSize = HeapConfig.DEFAULT_MAX_HEAP_BYTES;
        private long threadCacheSize = HeapConfig.DEFAULT_THREAD_CACHE_BYTES;
        private long totalCacheSize = HeapConfig.DEFAULT_TOTAL_CACHE_BYTES;
        /** Null while not set: the heap then takes {@code -Dspanheap.checked}, or off. */
        private Boolean checked;
        private boolean scavenger = true;
        private int retainPercent = HeapConfig.Scavenging.DEFAULT_RETAIN_PERCENT;
        private int maxRetainPercent = HeapConfig.Scavenging.DEFAULT_MAX_RETAIN_PERCENT;
        private long softLimit;
        /** -1 while not set: the heap then takes {@code -Dspanheap.profileRate}, or Go's default. */
        private long profileRate = -1;
        private String jmxName;
        private boolean transparentHugePages;
        private int virtualThreadCaches = HeapConfig.DEFAULT_VIRTUAL_THREAD_CACHES;

        private Builder() {
        }

        /**
         * How often allocations are sampled for the heap profile ({@link Spanheap#writeHeapProfile},
         * the leak report, JFR's {@code dev.spanheap.AllocationSample}): on average one allocation per
         * {@code bytes} bytes allocated, as Go's {@code runtime.MemProfileRate} (default 512 KiB, Go's
         * default). 0 turns profiling off; 1 samples every allocation. A sampled block keeps its stack
         * until freed and occupies whole pages of its own, but counts and reports the usable size an
         * unsampled block would have.
         *
         * <p>A heap whose builder does not set it, {@link Spanheap#global()} among them, takes the
         * system property {@code spanheap.profileRate} (a number of bytes, 0 or more) when it is set,
         * as Go's {@code GODEBUG=memprofilerate=N} does: an operator turns profiling off
         * ({@code -Dspanheap.profileRate=0}) or makes it finer without a change of code.
         */
        public Builder profileRate(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("profileRate must not be negative: " + bytes);
            }
            this.profileRate = bytes;
            return this;
        }

        /**
         * Registers a {@link SpanheapMXBean} for the heap as {@code dev.spanheap:type=Spanheap,name=<name>}
         * with the platform MBean server (default: none), unregistered when the heap closes; the name
         * also names the heap in JFR events and reports. {@link #build()} throws
         * {@link IllegalArgumentException} if that MBean name is taken.
         */
        public Builder jmxName(String name) {
            Objects.requireNonNull(name, "name");
            if (name.isEmpty()) {
                throw new IllegalArgumentException("jmxName must not be empty");
            }
            SpanheapManagement.objectName(name);
            this.jmxName = name;
            return this;
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
         * (default 103; the peak is over the last second, so a burst's pages stay that long). Higher
         * keeps more pages ready for reuse; 100 returns everything beyond the peak.
         */
        public Builder retainPercent(int percent) {
            if (percent < 100) {
                throw new IllegalArgumentException("retainPercent must be at least 100: " + percent);
            }
            this.retainPercent = percent;
            return this;
        }

        /**
         * The most memory the scavenger keeps whatever the recent peak, as a percentage of the
         * memory in use now (default 110, and never less than 8 MiB over it or than
         * {@link #retainPercent}): a free that takes retained memory past it releases the excess at
         * once, and so does the next scavenger cycle, up to 64 MiB at once and 64 MiB a second
         * after that. Without it a heap whose use just dropped would hold its old peak for a second. Higher keeps more pages for allocations that come
         * back soon; {@link Integer#MAX_VALUE} leaves only the window.
         */
        public Builder maxRetainPercent(int percent) {
            if (percent < 100) {
                throw new IllegalArgumentException("maxRetainPercent must be at least 100: " + percent);
            }
            this.maxRetainPercent = percent;
            return this;
        }

        /**
         * Whether the heap asks Linux for transparent huge pages (default off): each committed range
         * gets {@code madvise(MADV_HUGEPAGE)}, so the kernel backs it with 2 MiB pages where it can
         * (with {@code /sys/kernel/mm/transparent_hugepage/enabled} at {@code always} or
         * {@code madvise}), and the scavenger gives back free pages by 2 MiB stretch, wholly free ones
         * first, then those at least a quarter free, so that it never breaks up one that is more than
         * three quarters in use. A working set of many megabytes then costs far fewer TLB misses
         * (buffers of 0-64 KiB, 256 MiB of them replaced at random: 31 ns per replacement against
         * 40), at a price in memory: a stretch's first touch faults in all 2 MiB of it, and a dense
         * stretch keeps its free pages. {@link Spanheap#releaseMemory()}
         * and the {@link #softLimit soft limit} still release every free page, breaking huge pages up
         * where they must. A kernel without transparent huge pages ignores the request.
         *
         * <p>{@link MemStats#heapReleased()} counts free pages the heap never touched as released,
         * as it does with small pages; with huge pages the kernel may have made them resident along
         * with a touched neighbour in the same 2 MiB, so RSS can exceed {@code heapSys - heapReleased}
         * by up to 2 MiB per stretch in use.
         */
        public Builder transparentHugePages(boolean enabled) {
            this.transparentHugePages = enabled;
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
         * The most memory the heap may hold, in bytes (default 64 GiB, at most 8 TiB). This much
         * address space is reserved up front; physical memory is used only as blocks are touched.
         * Before an allocation is refused, memory kept idle for reuse goes back to the page heap:
         * the calling thread's cache, the virtual threads' caches, the caches of ended threads and
         * the central lists. Only the caches of other live platform threads (at most
         * {@link #totalCacheSize}) and blocks in use are left, so a request fails when no free run
         * of its size is left between them.
         */
        public Builder maxHeapSize(long bytes) {
            if (bytes < Pages.SIZE) {
                throw new IllegalArgumentException("maxHeapSize must be at least one page (8192 bytes): " + bytes);
            }
            if (bytes > HeapConfig.MAX_MAX_HEAP_BYTES) {
                throw new IllegalArgumentException(String.format("maxHeapSize must be at most 8 TiB (%d bytes): %d",
                        HeapConfig.MAX_MAX_HEAP_BYTES, bytes));
            }
            this.maxHeapSize = bytes;
            return this;
        }

        /**
         * The most bytes one thread's cache may hold (default 24 MiB, of which its blocks above 64 KiB
         * may take half); less while more threads than the total allows hold budget, each then
         * getting an equal share of {@link #totalCacheSize}.
         */
        public Builder threadCacheSize(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("threadCacheSize must not be negative: " + bytes);
            }
            this.threadCacheSize = bytes;
            return this;
        }

        /**
         * How many live virtual threads may each hold a thread cache of their own at once (default
         * 16). A virtual thread gets one when it first allocates while fewer are held, taking over
         * the cache of a thread that has ended when there is one, and keeps it for its life; its
         * blocks then take the same path as a platform thread's. The others share a few locked
         * caches, one per carrier thread (a virtual thread that allocated while all were held asks
         * again once one is free; one that was refused, or whose thread id's slot in the heap's
         * table of caches was taken, keeps the shared ones). More lets more concurrent virtual
         * threads allocate at platform-thread speed, at 73 KiB of Java heap per cache; the blocks
         * the caches keep stay within {@link #totalCacheSize} however many there are. 0: every
         * virtual thread shares the carriers' caches.
         */
        public Builder virtualThreadCaches(int count) {
            if (count < 0) {
                throw new IllegalArgumentException("virtualThreadCaches must not be negative: " + count);
            }
            this.virtualThreadCaches = count;
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
         * A debugging mode (default off) that detects every double free of small blocks, with an
         * atomic update of an allocation bitmap on each allocate and free, and every use of a
         * segment after its block was freed or reallocated: each segment from {@code allocate} gets
         * a JDK scope of its own, closed when the block is freed, so later accesses throw
         * {@link IllegalStateException} on any thread. That scope makes each segment's free cost
         * microseconds (the JDK handshakes every thread to close it); raw addresses pay only the
         * bitmap.
         *
         * <p>A heap whose builder does not set it, {@link Spanheap#global()} among them, takes the
         * system property {@code spanheap.checked} ({@code true} or {@code false}) when it is set:
         * a test suite runs in this mode with {@code -Dspanheap.checked=true} and no change of code.
         */
        public Builder checked(boolean checked) {
            this.checked = checked;
            return this;
        }

        public Spanheap build() {
            Spanheap spanheap = new Spanheap(newHeap(), false);
            if (jmxName != null) {
                try {
                    spanheap.management = SpanheapManagement.register(spanheap, jmxName);
                } catch (RuntimeException e) {
                    spanheap.close();
                    throw e;
                }
            }
            return spanheap;
        }

        private Heap newHeap() {
            HeapConfig.Scavenging defaults = HeapConfig.Scavenging.defaults();
            HeapConfig.Scavenging scavenging = new HeapConfig.Scavenging(scavenger, retainPercent, softLimit,
                    defaults.windowNanos(), defaults.clock(), defaults.sleeper(), maxRetainPercent);
            return new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, maxHeapSize,
                    PageHeap.DEFAULT_COMMIT_STEP_PAGES, threadCacheSize, totalCacheSize,
                    checked != null ? checked : PropertyDefaults.checked(), scavenging,
                    profileRate >= 0 ? profileRate : PropertyDefaults.profileRate(), jmxName, transparentHugePages,
                    virtualThreadCaches));
        }
    }
}
