package dev.spanheap.bench.jmh;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Where the heap profile's cost in a single pair comes from. {@code pair} is PairBenchmark's loop,
 * with nothing in it but the allocator: with profiling off, the JIT never sees the fast path miss
 * and compiles no call into the loop, so it keeps the thread's cache and the heap's fields in
 * registers across iterations; with profiling on, the rare sample is a call in the loop, and they
 * are loaded again every iteration. {@code pairBesideACall} adds one call that is not inlined, as
 * almost every real loop has one, and so measures what profiling costs once neither loop can keep
 * them.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ProfilingCostBenchmark {

    private static final MemorySegment EVERYTHING = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    /** Bytes per sample: Go's default, and off. */
    @Param({"524288", "0"})
    public long profileRate;

    @Param({"16", "65536"})
    public long size;

    private Spanheap heap;
    private long counter;

    @Setup
    public void setUp() {
        heap = Spanheap.builder().profileRate(profileRate).build();
    }

    @TearDown
    public void tearDown() {
        heap.close();
    }

    @Benchmark
    public void pair() {
        long address = heap.malloc(size);
        EVERYTHING.set(ValueLayout.JAVA_LONG_UNALIGNED, address, counter++);
        heap.free(address);
    }

    @Benchmark
    public void pairBesideACall() {
        long address = heap.malloc(size);
        EVERYTHING.set(ValueLayout.JAVA_LONG_UNALIGNED, address, counter++);
        heap.free(address);
        elsewhere();
    }

    /** The rest of a real loop's work, kept out of line: a call the JIT cannot see through. */
    @CompilerControl(CompilerControl.Mode.DONT_INLINE)
    private void elsewhere() {
        counter ^= 1L << 62;
    }
}
