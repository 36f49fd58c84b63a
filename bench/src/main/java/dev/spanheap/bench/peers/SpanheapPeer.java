package dev.spanheap.bench.peers;

import dev.spanheap.Spanheap;

/** Spanheap through its raw-address API: {@code malloc} and {@code free(long)}. */
final class SpanheapPeer extends AddressSlots {

    private final Spanheap heap;

    SpanheapPeer(Spanheap heap) {
        this.heap = heap;
    }

    @Override
    public void allocate(int slot, long size) {
        addresses[slot] = heap.malloc(size);
    }

    @Override
    public void free(int slot) {
        heap.free(addresses[slot]);
    }

    @Override
    public void close() {
        heap.close();
    }
}
