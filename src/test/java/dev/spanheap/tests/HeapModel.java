package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.spanheap.LocalHeap;
import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs a sequence of {@link HeapOp}s against a real {@link Spanheap} and a simple model (the live
 * blocks by address), through the public API only. After every step:
 * <ul>
 *   <li>{@link Spanheap#verify()} holds;</li>
 *   <li>{@link MemStats} equals the model: mallocs, frees, live objects and bytes, and Go's identities;</li>
 *   <li>every live block still holds the pattern written when it was allocated (sampled);</li>
 *   <li>a new block overlaps no live one, is aligned as asked, and a zeroed one reads as zero;</li>
 *   <li>bad input (stale, interior and foreign frees, bad sizes and alignments) throws the documented
 *       exception and changes nothing; after {@code close()} everything throws
 *       {@code IllegalStateException}.</li>
 * </ul>
 * Steps of a two-thread sequence run on two platform threads, one step at a time, so blocks are
 * freed on the other thread than allocated them and the run stays deterministic. On virtual
 * threads instead, the workers share the heap's stripes and have no {@link LocalHeap}: its steps go
 * through the heap's segment methods.
 */
final class HeapModel implements AutoCloseable {

    /** Frees a block for the model; the planted-bug tests swap in one that loses frees. */
    @FunctionalInterface
    interface Freeing {
        void free(Spanheap heap, Block block, HeapOp.Via via);

        Freeing HONEST = (heap, block, via) -> {
            switch (via) {
                case SEGMENT -> heap.free(block.segment());
                case ADDRESS -> heap.free(block.address());
                case LOCAL_HEAP -> LOCAL.get().free(block.segment());
            }
        };
    }

    /**
     * The calling worker thread's {@link LocalHeap} of the heap under test: made on the thread that
     * uses it, as LocalHeap requires, and dropped with the model.
     */
    private static final ThreadLocal<LocalHeap> LOCAL = new ThreadLocal<>();

    /**
     * A live block: its segment (as allocated, widened to the usable size), what was asked, what the
     * heap says it holds, and whether the segment came from the heap (so checked mode scopes it).
     */
    record Block(MemorySegment segment, long size, long usable, boolean scoped) {
        long address() {
            return segment.address();
        }
    }

    static final AtomicLong STEPS = new AtomicLong();
    private static final MemorySegment ZEROS = Arena.global().allocate(4L << 20);

    private final Spanheap heap;
    private final Freeing freeing;
    /** The model's idea of where a block ends past its usable bytes; the planted off-by-one sets 1. */
    private final long overlapSlack;
    private final ExecutorService[] threads;
    private final TreeMap<Long, Block> live = new TreeMap<>();
    private final List<Long> order = new ArrayList<>();
    private final List<Long> freed = new ArrayList<>();
    /** Blocks freed or reallocated whose segments checked mode must refuse from now on. */
    private final List<Block> ended = new ArrayList<>();
    private final boolean checked;
    private final boolean exactProfile;
    private final boolean virtualThreads;
    private long mallocs;
    private long frees;
    private boolean closed;

    HeapModel(boolean checked, int threadCount, Freeing freeing, long overlapSlack) {
        this(checked, threadCount, freeing, overlapSlack, DEFAULT_PROFILE_RATE);
    }

    /** The builder's default: Go's 512 KiB, so that the usual runs meet a sampled block now and then. */
    static final long DEFAULT_PROFILE_RATE = 512 << 10;

    /**
     * {@code profileRate} 1 samples every block: then every block has a span of its own, and the heap
     * profile must account for the live blocks exactly (checked at every step).
     */
    HeapModel(boolean checked, int threadCount, Freeing freeing, long overlapSlack, long profileRate) {
        this(checked, threadCount, freeing, overlapSlack, profileRate, false);
    }

    /**
     * {@code virtualThreads}: the workers are virtual threads, which no LocalHeap serves; each has a
     * cache of its own (the builder's default allows 16).
     */
    HeapModel(boolean checked, int threadCount, Freeing freeing, long overlapSlack, long profileRate,
            boolean virtualThreads) {
        this(checked, threadCount, freeing, overlapSlack, profileRate, virtualThreads, 16);
    }

    /**
     * {@code virtualThreadCaches}: the builder's option; with 0 virtual workers have no caches of
     * their own, and their blocks go through the carriers' stripes.
     */
    HeapModel(boolean checked, int threadCount, Freeing freeing, long overlapSlack, long profileRate,
            boolean virtualThreads, int virtualThreadCaches) {
        this.virtualThreads = virtualThreads;
        this.heap = Spanheap.builder().maxHeapSize(HeapOps.MAX_HEAP).checked(checked).scavenger(false)
                .threadCacheSize(256 << 10).totalCacheSize(1 << 20).profileRate(profileRate)
                .virtualThreadCaches(virtualThreadCaches).build();
        this.exactProfile = profileRate == 1;
        this.checked = checked;
        this.freeing = freeing;
        this.overlapSlack = overlapSlack;
        this.threads = new ExecutorService[threadCount];
        for (int i = 0; i < threadCount; i++) {
            Thread.Builder worker = virtualThreads ? Thread.ofVirtual() : Thread.ofPlatform();
            threads[i] = Executors.newSingleThreadExecutor(worker.name("heap-model-" + i).factory());
            if (virtualThreads) {
                continue;
            }
            try {
                threads[i].submit(() -> LOCAL.set(heap.localHeap())).get(60, TimeUnit.SECONDS);
            } catch (InterruptedException | ExecutionException | TimeoutException e) {
                throw new IllegalStateException("cannot give worker " + i + " its LocalHeap", e);
            }
        }
    }

    HeapModel(boolean checked, int threadCount) {
        this(checked, threadCount, Freeing.HONEST, 0);
    }

    /** Runs the whole sequence, then frees what is left and checks the heap is empty. */
    void run(List<HeapOp> ops) throws Exception {
        for (HeapOp op : ops) {
            STEPS.incrementAndGet();
            on(op.thread(), () -> {
                step(op);
                return null;
            });
        }
        on(0, () -> {
            finish();
            return null;
        });
    }

    private <V> V on(int thread, Callable<V> work) throws Exception {
        Future<V> result = threads[thread % threads.length].submit(work);
        try {
            return result.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw (Error) e.getCause();
        } catch (TimeoutException e) {
            result.cancel(true);
            throw new AssertionError("a heap step took over 60 s", e);
        }
    }

    private void step(HeapOp op) {
        if (closed && op instanceof HeapOp.UseAfterFree) {
            return;
        }
        if (closed) {
            if (!(op instanceof HeapOp.Close)) {
                assertThat(catchThrowable(() -> stepOnClosedHeap(op))).as("%s after close", op)
                        .isInstanceOf(IllegalStateException.class).hasMessage("Spanheap is closed");
            }
            return;
        }
        stepOnOpenHeap(op);
        if (!closed) {
            checkHeap();
        }
    }

    /** The API call of {@code op}, on a closed heap: each must throw. */
    private void stepOnClosedHeap(HeapOp op) {
        long someAddress = order.isEmpty() ? 8 : order.get(0);
        switch (op) {
            case HeapOp.Allocate a -> {
                if (via(a.via()) == HeapOp.Via.LOCAL_HEAP) {
                    LOCAL.get().allocate(a.size(), a.alignment());
                } else {
                    heap.allocate(a.size(), a.alignment());
                }
            }
            case HeapOp.AllocateZeroed z -> heap.allocateZeroed(z.size());
            case HeapOp.Free f -> {
                if (via(f.via()) == HeapOp.Via.LOCAL_HEAP) {
                    LOCAL.get().free(someAddress);
                } else {
                    heap.free(someAddress);
                }
            }
            case HeapOp.FreeStale s -> heap.free(freed.isEmpty() ? someAddress : freed.get(s.pick() % freed.size()));
            case HeapOp.FreeInterior i -> heap.free(someAddress + 8);
            case HeapOp.FreeForeign f -> freeForeign(f.what());
            case HeapOp.BadAllocate b -> heap.allocate(b.size(), b.alignment());
            case HeapOp.UsableSize u -> heap.usableSize(someAddress);
            case HeapOp.Reallocate r -> {
                if (r.via() == HeapOp.Via.ADDRESS) {
                    heap.reallocate(someAddress, r.newSize());
                } else {
                    heap.reallocate(MemorySegment.ofAddress(someAddress), r.newSize());
                }
            }
            case HeapOp.UseAfterFree u -> throw new AssertionError("not run after close");
            case HeapOp.ReleaseMemory r -> heap.releaseMemory();
            case HeapOp.FlushThreadCache f -> heap.flushThreadCache();
            case HeapOp.AllocateWholeHeap w -> heap.allocate(HeapOps.MAX_HEAP);
            case HeapOp.Close c -> heap.close();
        }
        heap.memStats();
        heap.verify();
    }

    /** How a step reaches the heap: as generated, except that virtual threads have no LocalHeap. */
    private HeapOp.Via via(HeapOp.Via via) {
        return virtualThreads && via == HeapOp.Via.LOCAL_HEAP ? HeapOp.Via.SEGMENT : via;
    }

    private void stepOnOpenHeap(HeapOp op) {
        switch (op) {
            case HeapOp.Allocate a -> allocated(switch (via(a.via())) {
                case SEGMENT -> heap.allocate(a.size(), a.alignment());
                case ADDRESS -> MemorySegment.ofAddress(heap.malloc(a.size())).reinterpret(a.size());
                case LOCAL_HEAP -> LOCAL.get().allocate(a.size(), a.alignment());
            }, a.size(), a.alignment(), a.via() != HeapOp.Via.ADDRESS);
            case HeapOp.AllocateZeroed z -> {
                MemorySegment segment = heap.allocateZeroed(z.size());
                assertThat(MemorySegment.mismatch(segment, 0, z.size(), ZEROS, 0, z.size()))
                        .as("allocateZeroed(%d) reads as zero", z.size()).isEqualTo(-1);
                allocated(segment, z.size(), 1, true);
            }
            case HeapOp.Free f -> {
                if (order.isEmpty()) {
                    return;
                }
                long address = order.remove(f.pick() % order.size());
                Block block = live.remove(address);
                assertPattern(block);
                freeing.free(heap, block, via(f.via()));
                frees++;
                ended(block);
                freed.add(address);
                if (freed.size() > 256) {
                    freed.removeFirst();
                }
            }
            case HeapOp.FreeStale s -> {
                List<Long> stale = freed.stream().filter(address -> !live.containsKey(address)).toList();
                if (!stale.isEmpty()) {
                    long address = stale.get(s.pick() % stale.size());
                    assertThat(catchThrowable(() -> heap.free(address)))
                            .as("stale free of 0x%x", address)
                            .isInstanceOfAny(IllegalStateException.class, IllegalArgumentException.class);
                }
            }
            case HeapOp.FreeInterior i -> {
                if (!order.isEmpty()) {
                    Block block = live.get(order.get(i.pick() % order.size()));
                    long interior = block.address() + 1 + i.delta() % (block.usable() - 1);
                    assertThatThrownBy(() -> heap.free(interior)).as("free of 0x%x inside %s", interior, block)
                            .isInstanceOf(IllegalArgumentException.class);
                }
            }
            case HeapOp.Reallocate r -> {
                if (!order.isEmpty()) {
                    reallocate(r);
                }
            }
            case HeapOp.UseAfterFree u -> {
                if (checked && !ended.isEmpty()) {
                    Block block = ended.get(u.pick() % ended.size());
                    assertThatThrownBy(() -> block.segment().get(ValueLayout.JAVA_BYTE, block.usable() - 1))
                            .as("read through the segment of %s after its free", block)
                            .isInstanceOf(IllegalStateException.class).hasMessage("Already closed");
                }
            }
            case HeapOp.FreeForeign f -> freeForeign(f.what());
            case HeapOp.BadAllocate b -> assertThat(catchThrowable(() -> heap.allocate(b.size(), b.alignment())))
                    .as("allocate(%d, %d)", b.size(), b.alignment())
                    .isInstanceOfAny(IllegalArgumentException.class, OutOfMemoryError.class);
            case HeapOp.UsableSize u -> {
                if (order.isEmpty()) {
                    assertThatThrownBy(() -> heap.usableSize(0)).isInstanceOf(IllegalArgumentException.class);
                } else {
                    Block block = live.get(order.get(u.pick() % order.size()));
                    assertThat(heap.usableSize(block.address())).isEqualTo(block.usable());
                }
            }
            case HeapOp.ReleaseMemory r -> assertThat(heap.releaseMemory()).isNotNegative();
            case HeapOp.FlushThreadCache f -> heap.flushThreadCache();
            case HeapOp.AllocateWholeHeap w -> {
                if (live.isEmpty()) {
                    allocateWholeHeap(w.thread());
                }
            }
            case HeapOp.Close c -> {
                closed = true;
                heap.close();
                heap.close();
            }
        }
    }

    /**
     * Allocates, touches and frees a block of the whole limit, on {@code thread} with the other
     * thread's cache flushed: nothing is in use, so a refusal is a failure of the test (JUnit would
     * take the OutOfMemoryError itself for the JVM's and end the run).
     */
    private void allocateWholeHeap(int thread) {
        if (threads.length > 1) {
            try {
                on(thread + 1, () -> {
                    heap.flushThreadCache();
                    return null;
                });
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }
        MemorySegment whole;
        try {
            whole = heap.allocate(HeapOps.MAX_HEAP);
        } catch (OutOfMemoryError refused) {
            throw new AssertionError("nothing is in use, yet: " + refused.getMessage(), refused);
        }
        whole.set(ValueLayout.JAVA_BYTE, HeapOps.MAX_HEAP - 1, (byte) 1);
        heap.free(whole);
        mallocs++;
        frees++;
    }

    /** Frees something this heap never handed out: refused, or on a closed heap, the close. */
    private void freeForeign(HeapOp.Foreign what) {
        Throwable thrown = switch (what) {
            case NULL_ADDRESS -> catchThrowable(() -> heap.free(0L));
            case NULL_SEGMENT -> catchThrowable(() -> heap.free(MemorySegment.NULL));
            case JDK_SEGMENT -> {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment foreign = arena.allocate(64);
                    yield catchThrowable(() -> heap.free(foreign));
                }
            }
            case LOW_ADDRESS -> catchThrowable(() -> heap.free(4096L));
            case HIGH_ADDRESS -> catchThrowable(() -> heap.free(Long.MAX_VALUE & ~7L));
        };
        if (closed) {
            if (thrown instanceof RuntimeException refused) {
                throw refused;
            }
            throw new AssertionError("free of a foreign " + what + " after close threw " + thrown);
        }
        assertThat(thrown).as("free of a foreign %s", what).isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * Resizes a live block and checks what the heap promises: the bytes up to the smaller size are
     * kept, the old segment stops working in checked mode, and the counts move only if the block did.
     */
    private void reallocate(HeapOp.Reallocate r) {
        long address = order.remove(r.pick() % order.size());
        Block block = live.remove(address);
        assertPattern(block);
        MemorySegment resized = r.via() == HeapOp.Via.ADDRESS
                ? MemorySegment.ofAddress(heap.reallocate(address, r.newSize())).reinterpret(r.newSize())
                : heap.reallocate(block.segment(), r.newSize());
        assertThat(resized.byteSize()).isEqualTo(r.newSize());
        long kept = Math.min(block.usable(), r.newSize());
        byte expected = pattern(address);
        MemorySegment keptBytes = resized.reinterpret(kept);
        for (long i = 0; i < kept; i += Math.max(1, kept / 16)) {
            assertThat(keptBytes.get(ValueLayout.JAVA_BYTE, i)).as("byte %d of %s after reallocate(%d)", i, block, r.newSize())
                    .isEqualTo(expected);
        }
        if (kept > 0) {
            assertThat(keptBytes.get(ValueLayout.JAVA_BYTE, kept - 1)).isEqualTo(expected);
        }
        if (resized.address() != address) {
            frees++;
            freed.add(address);
        } else {
            // In place: no new block, so allocated() below must not count one.
            mallocs--;
            assertThat(r.newSize()).as("in place only when the block holds it").isLessThanOrEqualTo(block.usable());
        }
        ended(block);
        allocated(resized, r.newSize(), 1, r.via() != HeapOp.Via.ADDRESS);
    }

    private void ended(Block block) {
        if (block.scoped()) {
            ended.add(block);
            if (ended.size() > 64) {
                ended.removeFirst();
            }
        }
    }

    private void allocated(MemorySegment segment, long size, long alignment, boolean scoped) {
        long address = segment.address();
        assertThat(segment.byteSize()).isEqualTo(size);
        assertThat(address % alignment).as("0x%x aligned to %d", address, alignment).isZero();
        long usable = heap.usableSize(address);
        assertThat(usable).isGreaterThanOrEqualTo(Math.max(size, 1));
        Block block = new Block(segment, size, usable, scoped);
        assertNoOverlap(block);
        MemorySegment whole = segment.reinterpret(usable);
        whole.fill(pattern(address));
        live.put(address, new Block(whole, size, usable, scoped));
        order.add(address);
        mallocs++;
    }

    private void assertNoOverlap(Block block) {
        Map.Entry<Long, Block> below = live.floorEntry(block.address());
        if (below != null) {
            assertThat(below.getKey() + below.getValue().usable() + overlapSlack)
                    .as("%s overlaps %s below it", block, below.getValue()).isLessThanOrEqualTo(block.address());
        }
        Map.Entry<Long, Block> above = live.ceilingEntry(block.address());
        if (above != null) {
            assertThat(block.address() + block.usable() + overlapSlack)
                    .as("%s overlaps %s above it", block, above.getValue()).isLessThanOrEqualTo(above.getKey());
        }
    }

    private void checkHeap() {
        heap.verify();
        MemStats stats = heap.memStats();
        long liveBytes = live.values().stream().mapToLong(Block::usable).sum();
        assertThat(stats.mallocs()).as("mallocs").isEqualTo(mallocs);
        assertThat(stats.frees()).as("frees").isEqualTo(frees);
        assertThat(stats.heapObjects()).as("heapObjects").isEqualTo(live.size());
        assertThat(stats.heapAlloc()).as("heapAlloc").isEqualTo(liveBytes);
        assertThat(stats.heapSys()).isEqualTo(stats.heapInuse() + stats.heapIdle());
        assertThat(stats.heapReleased()).isLessThanOrEqualTo(stats.heapIdle());
        assertThat(stats.heapAlloc()).isLessThanOrEqualTo(stats.heapInuse());
        live.values().forEach(HeapModel::assertPattern);
        if (exactProfile) {
            PprofProfile profile = HeapProfileTest.profileOf(heap);
            assertThat(profile.total("inuse_space", null)).as("profile inuse_space").isEqualTo(liveBytes);
            assertThat(profile.total("inuse_objects", null)).as("profile inuse_objects").isEqualTo(live.size());
            assertThat(profile.total("alloc_objects", null)).as("profile alloc_objects").isEqualTo(mallocs);
        }
    }

    private void finish() {
        if (closed) {
            return;
        }
        for (Block block : live.values()) {
            assertPattern(block);
            heap.free(block.address());
            frees++;
        }
        live.clear();
        order.clear();
        heap.flushThreadCache();
        heap.releaseMemory();
        checkHeap();
    }

    static byte pattern(long address) {
        return (byte) (address * 0x9E3779B97F4A7C15L >>> 56);
    }

    private static void assertPattern(Block block) {
        byte expected = pattern(block.address());
        long size = block.usable();
        long stride = Math.max(1, size / 16);
        for (long i = 0; i < size; i += stride) {
            assertThat(block.segment().get(ValueLayout.JAVA_BYTE, i)).as("byte %d of %s", i, block).isEqualTo(expected);
        }
        assertThat(block.segment().get(ValueLayout.JAVA_BYTE, size - 1)).isEqualTo(expected);
    }

    @Override
    public void close() {
        for (ExecutorService thread : threads) {
            thread.submit(LOCAL::remove);
            thread.shutdown();
        }
        heap.close();
    }
}
