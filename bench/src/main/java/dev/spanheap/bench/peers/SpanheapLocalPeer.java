package dev.spanheap.bench.peers;

import dev.spanheap.LocalHeap;
import dev.spanheap.Spanheap;

/** Spanheap through a {@link LocalHeap} handle, which skips the thread-local lookup per call. */
final class SpanheapLocalPeer extends AddressSlots {

    private final Spanheap heap = Spanheap.create();
    private LocalHeap local;

    @Override
    public void open(int slots) {
        super.open(slots);
        local = heap.localHeap();
    }

    @Override
    public void allocate(int slot, long size) {
        addresses[slot] = local.malloc(size);
    }

    @Override
    public void free(int slot) {
        local.free(addresses[slot]);
    }

    @Override
    public void close() {
        heap.close();
    }
}
