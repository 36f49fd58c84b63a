package dev.spanheap.bench.jmh;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Spanheap's two APIs side by side in one run: raw addresses ({@code malloc}/{@code free(long)})
 * against segments ({@code allocate}/{@code free(MemorySegment)}), each allocating, writing 8 bytes
 * and freeing. "local" keeps the segment in the method, as FFM code that allocates a buffer for a
 * call does; "held" stores it in a field first, as a buffer kept across calls is. The "checked"
 * variants run on a heap in checked mode: segments with a scope of their own (use after free
 * caught), and raw addresses, which pay only the allocation bitmap.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class SegmentApiBenchmark {

    private static final MemorySegment EVERYTHING = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    @Param({"16", "256", "4096"})
    public long size;

    private Spanheap heap;
    private Spanheap checkedHeap;
    private MemorySegment held;
    private long counter;

    @Setup
    public void setUp() {
        heap = Spanheap.create();
        checkedHeap = Spanheap.builder().checked(true).build();
    }

    @TearDown
    public void tearDown() {
        heap.close();
        checkedHeap.close();
    }

    @Benchmark
    public void address() {
        long address = heap.malloc(size);
        EVERYTHING.set(ValueLayout.JAVA_LONG_UNALIGNED, address, counter++);
        heap.free(address);
    }

    @Benchmark
    public void segmentLocal() {
        MemorySegment segment = heap.allocate(size);
        segment.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, counter++);
        heap.free(segment);
    }

    @Benchmark
    public void segmentHeld() {
        held = heap.allocate(size);
        held.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, counter++);
        heap.free(held);
    }

    @Benchmark
    public void checkedAddress() {
        long address = checkedHeap.malloc(size);
        EVERYTHING.set(ValueLayout.JAVA_LONG_UNALIGNED, address, counter++);
        checkedHeap.free(address);
    }

    @Benchmark
    public void checkedSegment() {
        MemorySegment segment = checkedHeap.allocate(size);
        segment.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, counter++);
        checkedHeap.free(segment);
    }
}
