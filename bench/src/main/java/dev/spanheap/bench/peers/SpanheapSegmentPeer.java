package dev.spanheap.bench.peers;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Spanheap through its segment API, as FFM users would write it: allocate, set, free(segment). */
final class SpanheapSegmentPeer implements Peer {

    private final Spanheap heap = Spanheap.create();
    private MemorySegment[] segments;

    @Override
    public void open(int slots) {
        segments = new MemorySegment[slots];
    }

    @Override
    public void allocate(int slot, long size) {
        segments[slot] = heap.allocate(size);
    }

    @Override
    public void write(int slot, long value) {
        segments[slot].set(ValueLayout.JAVA_LONG_UNALIGNED, 0, value);
    }

    @Override
    public void free(int slot) {
        heap.free(segments[slot]);
        segments[slot] = null;
    }

    @Override
    public void close() {
        heap.close();
    }
}
