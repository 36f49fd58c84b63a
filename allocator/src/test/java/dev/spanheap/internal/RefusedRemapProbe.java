package dev.spanheap.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;

/**
 * Run in a JVM of its own by {@link RefusedRemapTest}, since what it guards against is a crash: a
 * heap whose close cannot map fresh pages over its memory (the OS refuses) while a
 * buffer of the Netty adapter's kind and a segment of an open heap-backed arena still point into
 * it. Both are used after the close. Prints what they read.
 */
public final class RefusedRemapProbe {

    private RefusedRemapProbe() {
    }

    public static void main(String[] args) {
        InjectedOsFaults os = InjectedOsFaults.none();
        Heap heap = new Heap(new HeapConfig(os, 1L << 30, 64, 256 << 10, 1 << 20, false));
        long block = heap.allocate(4096, 1);
        ByteBuffer buffer = heap.segments().unscopedByteBuffer(block, 4096);
        buffer.put(0, (byte) 42);
        Arena arena = HeapArena.shared(heap);
        MemorySegment segment = arena.allocate(100);
        segment.set(ValueLayout.JAVA_BYTE, 0, (byte) 7);
        // The close's first call to the OS, the fresh pages over the heap's memory, is refused.
        os.failNextCall();
        heap.close();
        byte fromBuffer = buffer.get(0);
        byte fromSegment = segment.get(ValueLayout.JAVA_BYTE, 0);
        buffer.put(1, (byte) 1);
        segment.set(ValueLayout.JAVA_BYTE, 1, (byte) 1);
        os.disarm();
        arena.close();
        System.out.println("after the refused close: buffer read " + fromBuffer + ", segment read " + fromSegment);
    }
}
