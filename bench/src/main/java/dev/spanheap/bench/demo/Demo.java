package dev.spanheap.bench.demo;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/** Allocates, writes and frees a mix of blocks, and prints what the heap holds. */
public final class Demo {

    private Demo() {
    }

    public static void main(String[] args) {
        try (Spanheap heap = Spanheap.create()) {
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 10_000; i++) {
                long size = 16L << (i % 14);
                MemorySegment block = heap.allocate(size);
                block.set(ValueLayout.JAVA_LONG, 0, i);
                blocks.add(block);
            }
            System.out.println("allocated " + blocks.size() + " blocks");
            for (MemorySegment block : blocks) {
                heap.free(block);
            }
            heap.verify();
            System.out.println("freed them all; heap verified");
        }
    }
}
