package dev.spanheap.bench.peers;

import dev.spanheap.LocalHeap;
import dev.spanheap.Spanheap;

/**
 * Spanheap through a {@link LocalHeap} handle, which skips the thread-local lookup per call. A
 * handle belongs to one thread, so where blocks cross threads this peer uses the heap's own methods
 * and measures the same as {@code spanheap}.
 */
final class SpanheapLocalPeer extends AddressSlots {

    private final Spanheap heap;
    private LocalHeap local;
    private boolean crossThread;

    SpanheapLocalPeer(Spanheap heap) {
        this.heap = heap;
    }

    @Override
    public void prepareCrossThread() {
        crossThread = true;
    }

    @Override
    public void open(int slots) {
        super.open(slots);
        local = heap.localHeap();
    }

    @Override
    public void allocate(int slot, long size) {
        addresses[slot] = crossThread ? heap.malloc(size) : local.malloc(size);
    }

    @Override
    public void free(int slot) {
        if (crossThread) {
            heap.free(addresses[slot]);
        } else {
            local.free(addresses[slot]);
        }
    }

    @Override
    public void close() {
        heap.close();
    }
}
