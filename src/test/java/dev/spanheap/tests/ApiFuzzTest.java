package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.spanheap.LocalHeap;
import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;

/**
 * Drives the public API from fuzzer bytes, bad input included: any size and alignment, foreign,
 * interior, random and stale addresses, {@link MemorySegment#NULL}, double frees, use after close
 * and a close racing frees on another thread. The only outcomes allowed are the documented
 * exceptions ({@link IllegalArgumentException}, {@link IllegalStateException},
 * {@link OutOfMemoryError} for allocations), {@code verify()} holding after every step, blocks keeping
 * their contents, the statistics counting exactly the blocks in use, and no JVM crash.
 * {@link #everyPath} adds the paths that {@link #publicApi} leaves out.
 *
 * <p>A normal build runs the inputs under {@code resources/dev/spanheap/tests/ApiFuzzTestInputs/}
 * (crashers found by fuzzing are kept there). {@code JAZZER_FUZZ=1} fuzzes; see the README. What it
 * instruments for coverage is set in {@code junit-platform.properties}.
 */
class ApiFuzzTest {

    private static final int MAX_OPERATIONS = 200;
    /** The operations of {@link #apply}; the two after them close the heap. */
    private static final int LAST_BASIC_OPERATION = 11;
    private static final int LAST_CLOSE_OPERATION = 13;
    /** The operations of {@link #applyMore}, which {@link #everyPath} adds. */
    private static final int LAST_OPERATION = 17;
    /** {@link #everyPath}'s profile rates: off, every allocation, often, and Go's default. */
    private static final long[] PROFILE_RATES = {0, 1, 4096, 512 << 10};
    /** {@link #everyPath}'s virtualThreadCaches: the default, none (the stripes), and one. */
    private static final int[] VIRTUAL_THREAD_CACHES = {16, 0, 1};

    @FuzzTest(maxDuration = "2m")
    void publicApi(FuzzedDataProvider data) throws InterruptedException {
        Spanheap heap = Spanheap.builder().maxHeapSize(256L << 20).checked(data.consumeBoolean())
                .scavenger(false).build();
        steps(heap, data, LAST_CLOSE_OPERATION, false);
    }

    /**
     * {@link #publicApi} on heaps built more ways (a profile rate, a small limit, virtual threads'
     * caches) and with the paths it leaves out: operations on a virtual thread (a cache of its own,
     * made or taken over, or the striped caches) or on a new platform thread
     * (a cache made or taken over, and left behind when the thread ends), through a
     * {@link LocalHeap}, and the profile and leak report, which must count exactly the blocks in use
     * when every allocation is sampled.
     */
    @FuzzTest(maxDuration = "2m")
    void everyPath(FuzzedDataProvider data) throws InterruptedException {
        boolean checked = data.consumeBoolean();
        long rate = PROFILE_RATES[data.consumeInt(0, PROFILE_RATES.length - 1)];
        long limit = data.consumeBoolean() ? 16L << 20 : 256L << 20;
        int virtualThreadCaches = VIRTUAL_THREAD_CACHES[data.consumeInt(0, VIRTUAL_THREAD_CACHES.length - 1)];
        Spanheap heap = Spanheap.builder().maxHeapSize(limit).checked(checked).profileRate(rate)
                .virtualThreadCaches(virtualThreadCaches).scavenger(false).build();
        steps(heap, data, LAST_OPERATION, rate == 1);
    }

    /**
     * Runs the fuzzer's operations, from 0 to {@code lastOperation}, on {@code heap}, checking it after
     * each; {@code exactProfile}: every allocation is sampled, so the profile counts every block.
     */
    private static void steps(Spanheap heap, FuzzedDataProvider data, int lastOperation, boolean exactProfile)
            throws InterruptedException {
        Map<Long, Long> live = new HashMap<>();
        List<Long> freed = new ArrayList<>();
        boolean closed = false;
        try {
            for (int step = 0; step < MAX_OPERATIONS && data.remainingBytes() > 0; step++) {
                int operation = data.consumeInt(0, lastOperation);
                if (operation > LAST_BASIC_OPERATION && operation <= LAST_CLOSE_OPERATION) {
                    if (operation == LAST_CLOSE_OPERATION && !closed) {
                        closeWhileFreeing(heap, new ArrayList<>(live.keySet()));
                    }
                    heap.close();
                    closed = true;
                    // The blocks went with the heap: later steps use addresses the fuzzer picks.
                    live.clear();
                    continue;
                }
                try {
                    if (operation <= LAST_BASIC_OPERATION) {
                        apply(heap, operation, data, live, freed);
                    } else {
                        applyMore(heap, operation, data, live, freed, closed, exactProfile);
                    }
                } catch (IllegalArgumentException | IllegalStateException refused) {
                    if (closed) {
                        assertThat(refused).isInstanceOf(IllegalStateException.class);
                    }
                }
                if (!closed) {
                    heap.verify();
                    MemStats stats = heap.memStats();
                    assertThat(stats.heapObjects()).isEqualTo(live.size());
                    assertThat(stats.heapAlloc()).isEqualTo(bytesInUse(live));
                }
            }
            if (!closed) {
                for (Map.Entry<Long, Long> block : live.entrySet()) {
                    assertPattern(heap, block.getKey(), block.getValue());
                    heap.free(block.getKey());
                }
                heap.verify();
                assertThat(heap.memStats().heapObjects()).isZero();
            }
        } finally {
            heap.close();
        }
    }

    /** One step; may throw only IllegalArgumentException or IllegalStateException (and OOM on allocation). */
    private static void apply(Spanheap heap, int operation, FuzzedDataProvider data, Map<Long, Long> live,
                              List<Long> freed) {
        switch (operation) {
            case 0, 1 -> {
                long size = operation == 0 ? data.consumeLong(0, 3L << 20) : data.consumeLong();
                long alignment = data.consumeBoolean() ? 1L << data.consumeInt(0, 24) : data.consumeLong();
                try {
                    MemorySegment block = heap.allocate(size, alignment);
                    assertThat(block.address() % alignment).isZero();
                    remember(heap, block.address(), live, freed);
                } catch (OutOfMemoryError limit) {
                    assertThat(limit).hasMessageStartingWith("Spanheap cannot allocate");
                }
            }
            case 2 -> {
                long size = data.consumeLong(0, 1L << 20);
                MemorySegment block;
                try {
                    block = heap.allocateZeroed(size);
                } catch (OutOfMemoryError limit) {
                    assertThat(limit).hasMessageStartingWith("Spanheap cannot allocate");
                    return;
                }
                assertThat(MemorySegment.mismatch(block, 0, size, MemorySegment.ofArray(new byte[(int) size]), 0, size))
                        .isEqualTo(-1);
                remember(heap, block.address(), live, freed);
            }
            case 3 -> freeLive(heap, heap::free, data, live, freed);
            case 4 -> freeLive(heap, address -> heap.free(MemorySegment.ofAddress(address)), data, live, freed);
            case 5 -> freeRefused(heap::free, data.consumeLong(), live, freed);
            case 6 -> {
                if (!live.isEmpty()) {
                    long address = pick(new ArrayList<>(live.keySet()), data);
                    freeRefused(heap::free, address + data.consumeLong(1, live.get(address) - 1), live, freed);
                }
            }
            case 7 -> {
                if (!freed.isEmpty()) {
                    freeRefused(heap::free, pick(freed, data), live, freed);
                }
            }
            case 8 -> heap.free(MemorySegment.NULL);
            case 9 -> {
                long address = live.isEmpty() || data.consumeBoolean() ? data.consumeLong()
                        : pick(new ArrayList<>(live.keySet()), data);
                long usable = heap.usableSize(address);
                assertThat(live).containsEntry(address, usable);
            }
            case 10 -> heap.releaseMemory();
            case 11 -> {
                switch (data.consumeInt(0, 2)) {
                    case 0 -> heap.flushThreadCache();
                    case 1 -> reallocate(heap, data, live, freed);
                    default -> useAnArena(heap, data);
                }
            }
            default -> throw new AssertionError(operation);
        }
    }

    /**
     * {@link #everyPath}'s further steps; may throw what {@link #apply} may. {@code exactProfile}: the
     * heap samples every allocation, so its profile must count exactly the blocks in use.
     */
    private static void applyMore(Spanheap heap, int operation, FuzzedDataProvider data, Map<Long, Long> live,
                                  List<Long> freed, boolean closed, boolean exactProfile) throws InterruptedException {
        switch (operation) {
            case 14, 17 -> {
                // A virtual thread makes or takes over a cache of its own, or uses the striped caches
                // (virtualThreadCaches 0); a new platform thread makes or takes over a cache; each
                // ends with it, for the next one to take over or the heap to reap.
                int basic = data.consumeInt(0, LAST_BASIC_OPERATION);
                onNewThread(operation == 14 ? Thread.ofVirtual() : Thread.ofPlatform(),
                        () -> apply(heap, basic, data, live, freed));
            }
            case 15 -> {
                LocalHeap local = heap.localHeap();
                switch (data.consumeInt(0, 2)) {
                    case 0 -> {
                        try {
                            remember(heap, local.malloc(data.consumeLong(0, 3L << 20)), live, freed);
                        } catch (OutOfMemoryError limit) {
                            assertThat(limit).hasMessageStartingWith("Spanheap cannot allocate");
                        }
                    }
                    case 1 -> freeLive(heap, local::free, data, live, freed);
                    default -> {
                        long address = !freed.isEmpty() && data.consumeBoolean() ? pick(freed, data) : data.consumeLong();
                        freeRefused(local::free, address, live, freed);
                    }
                }
            }
            case 16 -> {
                if (closed) {
                    // Whatever they report after close, they may refuse only as closed.
                    heap.leakReport();
                    HeapProfileTest.profileOf(heap);
                    return;
                }
                long inUse = bytesInUse(live);
                assertThat(heap.leakReport()).contains(String.format("has %d %s (%d bytes) in use",
                        live.size(), live.size() == 1 ? "block" : "blocks", inUse));
                PprofProfile profile = HeapProfileTest.profileOf(heap);
                if (exactProfile) {
                    assertThat(profile.total("inuse_objects", null)).as("profile inuse_objects").isEqualTo(live.size());
                    assertThat(profile.total("inuse_space", null)).as("profile inuse_space").isEqualTo(inUse);
                }
            }
            default -> throw new AssertionError(operation);
        }
    }

    /** Runs {@code step} on a new thread and waits for it to end; what it throws is thrown here. */
    private static void onNewThread(Thread.Builder thread, Runnable step) throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        thread.start(() -> {
            try {
                step.run();
            } catch (Throwable t) {
                thrown.set(t);
            }
        }).join();
        switch (thrown.get()) {
            case null -> { }
            case RuntimeException e -> throw e;
            case Error e -> throw e;
            case Throwable t -> throw new AssertionError(t);
        }
    }

    /** Resizes a live block, or something else the fuzzer picks, which must be refused. */
    private static void reallocate(Spanheap heap, FuzzedDataProvider data, Map<Long, Long> live, List<Long> freed) {
        boolean ofLive = !live.isEmpty() && data.consumeBoolean();
        long address = ofLive ? pick(new ArrayList<>(live.keySet()), data) : data.consumeLong();
        long newSize = data.consumeBoolean() ? data.consumeLong(0, 3L << 20) : data.consumeLong();
        long moved;
        try {
            moved = heap.reallocate(address, newSize);
        } catch (OutOfMemoryError limit) {
            assertThat(limit).hasMessageStartingWith("Spanheap cannot allocate");
            return;
        }
        assertThat(live).as("reallocate(0x%x) accepted", address).containsKey(address);
        long kept = Math.min(live.get(address), newSize);
        if (kept > 0) {
            MemorySegment block = MemorySegment.ofAddress(moved).reinterpret(kept);
            assertThat(block.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo(pattern(address));
            assertThat(block.get(ValueLayout.JAVA_BYTE, kept - 1)).isEqualTo(pattern(address));
        }
        live.remove(address);
        if (moved != address) {
            freed.add(address);
        }
        remember(heap, moved, live, freed);
    }

    /** A confined heap-backed arena: a few requests the fuzzer picks, then close, which gives everything back. */
    private static void useAnArena(Spanheap heap, FuzzedDataProvider data) {
        long before = heap.memStats().heapObjects();
        Arena opened;
        try {
            opened = heap.newConfinedArena();
        } catch (OutOfMemoryError full) {
            // The arena takes its first block when it opens.
            assertThat(full).hasMessageStartingWith("Spanheap cannot allocate");
            return;
        }
        try (Arena arena = opened) {
            for (int i = data.consumeInt(0, 8); i > 0; i--) {
                long size = data.consumeBoolean() ? data.consumeLong(0, 1L << 20) : data.consumeLong();
                long alignment = data.consumeBoolean() ? 1L << data.consumeInt(0, 24) : data.consumeLong();
                try {
                    MemorySegment segment = arena.allocate(size, alignment);
                    assertThat(segment.address() % alignment).isZero();
                    segment.fill((byte) 1);
                } catch (IllegalArgumentException | OutOfMemoryError refused) {
                    // Refused as the JDK's arenas refuse it; the arena is unchanged.
                }
            }
        }
        assertThat(heap.memStats().heapObjects()).as("the arena gave back everything").isEqualTo(before);
    }

    /** Frees a live block the fuzzer picks (if any) through {@code free}, after checking its contents. */
    private static void freeLive(Spanheap heap, LongConsumer free, FuzzedDataProvider data, Map<Long, Long> live,
                                 List<Long> freed) {
        if (!live.isEmpty()) {
            long address = pick(new ArrayList<>(live.keySet()), data);
            assertPattern(heap, address, live.get(address));
            free.accept(address);
            live.remove(address);
            freed.add(address);
        }
    }

    /** A free that must be refused unless the address is a live block's start, which it then frees. */
    private static void freeRefused(LongConsumer free, long address, Map<Long, Long> live, List<Long> freed) {
        if (live.containsKey(address)) {
            free.accept(address);
            live.remove(address);
            freed.add(address);
            return;
        }
        try {
            free.accept(address);
        } catch (IllegalArgumentException | IllegalStateException refused) {
            return;
        }
        throw new AssertionError("free of 0x" + Long.toHexString(address) + " was accepted; live: " + live.keySet());
    }

    private static void remember(Spanheap heap, long address, Map<Long, Long> live, List<Long> freed) {
        long usable = heap.usableSize(address);
        assertThat(live).doesNotContainKey(address);
        MemorySegment.ofAddress(address).reinterpret(usable).fill(pattern(address));
        live.put(address, usable);
        freed.remove(address);
    }

    /** The usable bytes of the live blocks, which the statistics count as {@code heapAlloc}. */
    private static long bytesInUse(Map<Long, Long> live) {
        return live.values().stream().mapToLong(Long::longValue).sum();
    }

    private static long pick(List<Long> addresses, FuzzedDataProvider data) {
        return addresses.get(data.consumeInt(0, addresses.size() - 1));
    }

    private static byte pattern(long address) {
        return (byte) (address * 0x9E3779B97F4A7C15L >>> 56);
    }

    private static void assertPattern(Spanheap heap, long address, long usable) {
        MemorySegment block = MemorySegment.ofAddress(address).reinterpret(usable);
        assertThat(block.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo(pattern(address));
        assertThat(block.get(ValueLayout.JAVA_BYTE, usable - 1)).isEqualTo(pattern(address));
    }

    /** Frees every live block on another thread while this one closes the heap. */
    private static void closeWhileFreeing(Spanheap heap, List<Long> blocks) throws InterruptedException {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread freeing = Thread.ofPlatform().start(() -> {
            try {
                blocks.forEach(heap::free);
            } catch (Throwable t) {
                thrown.set(t);
            }
        });
        heap.close();
        freeing.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(freeing.isAlive()).isFalse();
        if (thrown.get() != null) {
            assertThat(thrown.get()).isInstanceOf(IllegalStateException.class).hasMessage("Spanheap is closed");
        }
    }
}
