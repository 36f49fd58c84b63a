package dev.spanheap.bench.jmh;

import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A jextract-style arena lifetime, as FFM code around a native call is written: open an arena,
 * allocate four zeroed segments of 16-256 bytes, write each, close. Measured for Spanheap's arenas,
 * the JDK's, a floor (a slicing allocator over a buffer allocated once, zeroing the same bytes) and
 * the JDK scope alone (open and close an arena that allocates nothing), and a Spanheap arena that
 * allocates nothing.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ArenaLifetimeBenchmark {

    private static final long[] SIZES = {16, 48, 128, 256};

    private Spanheap heap;
    private MemorySegment buffer;
    private long counter;

    @Setup
    public void setUp() {
        heap = Spanheap.create();
        buffer = Arena.global().allocate(4096, 16);
    }

    @TearDown
    public void tearDown() {
        heap.close();
    }

    private long useFourSegments(SegmentAllocator allocator) {
        long sum = 0;
        for (long size : SIZES) {
            MemorySegment segment = allocator.allocate(size, 8);
            segment.set(ValueLayout.JAVA_LONG, 0, counter++);
            segment.set(ValueLayout.JAVA_LONG, size - 8, counter);
            sum += segment.get(ValueLayout.JAVA_LONG, 0);
        }
        return sum;
    }

    @Benchmark
    public long spanheapConfined() {
        try (Arena arena = heap.newConfinedArena()) {
            return useFourSegments(arena);
        }
    }

    @Benchmark
    public long jdkConfined() {
        try (Arena arena = Arena.ofConfined()) {
            return useFourSegments(arena);
        }
    }

    @Benchmark
    public long spanheapShared() {
        try (Arena arena = heap.newSharedArena()) {
            return useFourSegments(arena);
        }
    }

    @Benchmark
    public long jdkShared() {
        try (Arena arena = Arena.ofShared()) {
            return useFourSegments(arena);
        }
    }

    /** The floor: carving and zeroing the same bytes from memory that is already there. */
    @Benchmark
    public long slicingFloor() {
        SegmentAllocator slicing = SegmentAllocator.slicingAllocator(buffer);
        return useFourSegments((byteSize, byteAlignment) -> slicing.allocate(byteSize, byteAlignment).fill((byte) 0));
    }

    /**
     * A Spanheap arena opened and closed with no allocation: the JDK scope, re-binding the heap's
     * memory to it, and the heap block of the first chunk. What the arena adds to the floor.
     */
    @Benchmark
    public Arena spanheapConfinedEmpty() {
        Arena arena = heap.newConfinedArena();
        arena.close();
        return arena;
    }

    /** The JDK scope alone: what every arena-bound segment's lifetime costs at least. */
    @Benchmark
    public Arena jdkScopeOnly() {
        Arena arena = Arena.ofConfined();
        arena.close();
        return arena;
    }
}
