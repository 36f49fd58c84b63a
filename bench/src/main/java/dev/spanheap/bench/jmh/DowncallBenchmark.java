package dev.spanheap.bench.jmh;

import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
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
 * A native call that takes a buffer by reference ({@code strlen}), on a segment from one heap that
 * every benchmark thread shares, against the same memory as a segment of the global scope and a
 * buffer of the thread's own confined JDK arena. The JDK acquires and releases a shared scope
 * around such a call, so segments whose scope several threads share pay for an atomic counter that
 * moves between their cores; run it with {@code -t 1} and {@code -t 2}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class DowncallBenchmark {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle STRLEN = LINKER.downcallHandle(
            LINKER.defaultLookup().find("strlen").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));

    /** One heap for every benchmark thread, as a service's heap is. */
    @State(Scope.Benchmark)
    public static class SharedHeap {
        Spanheap heap;

        @Setup
        public void setUp() {
            heap = Spanheap.create();
        }

        @TearDown
        public void tearDown() {
            heap.close();
        }
    }

    /** Each thread's buffer: from the shared heap, the same memory unscoped, and a confined arena's. */
    @State(Scope.Thread)
    public static class Buffers {
        MemorySegment heapSegment;
        MemorySegment globalSegment;
        MemorySegment confinedSegment;
        private Arena confined;
        private Spanheap heap;

        @Setup
        public void setUp(SharedHeap shared) {
            heap = shared.heap;
            heapSegment = heap.allocate(16);
            heapSegment.setString(0, "hello");
            globalSegment = MemorySegment.ofAddress(heapSegment.address()).reinterpret(16);
            confined = Arena.ofConfined();
            confinedSegment = confined.allocate(16);
            confinedSegment.setString(0, "hello");
        }

        @TearDown
        public void tearDown() {
            heap.free(heapSegment);
            confined.close();
        }
    }

    @Benchmark
    public long heapSegment(Buffers buffers) throws Throwable {
        return (long) STRLEN.invokeExact(buffers.heapSegment);
    }

    @Benchmark
    public long globalSegment(Buffers buffers) throws Throwable {
        return (long) STRLEN.invokeExact(buffers.globalSegment);
    }

    @Benchmark
    public long confinedSegment(Buffers buffers) throws Throwable {
        return (long) STRLEN.invokeExact(buffers.confinedSegment);
    }
}
