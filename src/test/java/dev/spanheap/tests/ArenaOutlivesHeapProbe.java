package dev.spanheap.tests;

import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Run in a JVM of its own by {@link ArenaOutlivesHeapTest}, since what it guards against is a crash:
 * a thread makes a heap and a shared arena, writes a segment of the arena, closes the heap and ends,
 * leaving the arena open and nothing but the segment behind. After the collector has had every
 * chance to let the heap's memory go, the segment is read and written again. Prints what it read
 * and wrote back.
 */
public final class ArenaOutlivesHeapProbe {

    private ArenaOutlivesHeapProbe() {
    }

    public static void main(String[] args) throws InterruptedException {
        AtomicReference<MemorySegment> kept = new AtomicReference<>();
        Thread owner = Thread.ofPlatform().start(() -> {
            Spanheap heap = Spanheap.create();
            Arena arena = heap.newSharedArena();
            MemorySegment segment = arena.allocate(100);
            segment.set(ValueLayout.JAVA_BYTE, 0, (byte) 42);
            heap.close();
            kept.set(segment);
        });
        owner.join();
        for (int i = 0; i < 30; i++) {
            System.gc();
            Thread.sleep(50);
        }
        MemorySegment segment = kept.get();
        byte read = segment.get(ValueLayout.JAVA_BYTE, 0);
        segment.set(ValueLayout.JAVA_BYTE, 0, (byte) 5);
        System.out.println("read " + read + ", then " + segment.get(ValueLayout.JAVA_BYTE, 0));
    }
}
