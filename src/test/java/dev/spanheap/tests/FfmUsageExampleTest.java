package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import org.junit.jupiter.api.Test;

/**
 * The README's "Using Spanheap from FFM code" example, run as written: a downcall whose arguments
 * live in a heap-backed arena, and a buffer grown with reallocate.
 */
class FfmUsageExampleTest {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle STRLEN = LINKER.downcallHandle(
            LINKER.defaultLookup().find("strlen").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    private static final MethodHandle QSORT = LINKER.downcallHandle(
            LINKER.defaultLookup().find("qsort").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));

    @Test
    void aDowncallWithArgumentsFromAHeapBackedArena() throws Throwable {
        Spanheap heap = Spanheap.global();
        long length;
        try (Arena arena = heap.newConfinedArena()) {
            MemorySegment text = arena.allocateFrom("Hello from Spanheap");
            length = (long) STRLEN.invokeExact(text);
        }
        assertThat(length).isEqualTo(19);
    }

    @Test
    void qsortOverHeapMemoryWithAnUpcallComparator() throws Throwable {
        MethodHandle compare = java.lang.invoke.MethodHandles.lookup().findStatic(FfmUsageExampleTest.class, "compareInts",
                java.lang.invoke.MethodType.methodType(int.class, MemorySegment.class, MemorySegment.class));
        try (Arena arena = Spanheap.global().newConfinedArena()) {
            MemorySegment comparator = LINKER.upcallStub(compare, FunctionDescriptor.of(ValueLayout.JAVA_INT,
                    ValueLayout.ADDRESS.withTargetLayout(ValueLayout.JAVA_INT),
                    ValueLayout.ADDRESS.withTargetLayout(ValueLayout.JAVA_INT)), arena);
            MemorySegment numbers = arena.allocateFrom(ValueLayout.JAVA_INT, 5, -3, 9, 0, 2);
            QSORT.invokeExact(numbers, 5L, 4L, comparator);
            assertThat(numbers.toArray(ValueLayout.JAVA_INT)).containsExactly(-3, 0, 2, 5, 9);
        }
    }

    static int compareInts(MemorySegment a, MemorySegment b) {
        return Integer.compare(a.get(ValueLayout.JAVA_INT, 0), b.get(ValueLayout.JAVA_INT, 0));
    }

    @Test
    void aBufferGrownWithReallocate() {
        Spanheap heap = Spanheap.global();
        MemorySegment buffer = heap.allocate(64);
        buffer.setString(0, "kept");
        buffer = heap.reallocate(buffer, 64 << 10);
        assertThat(buffer.getString(0)).isEqualTo("kept");
        heap.free(buffer);
    }
}
