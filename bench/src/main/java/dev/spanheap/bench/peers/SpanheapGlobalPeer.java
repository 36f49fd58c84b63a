package dev.spanheap.bench.peers;

import dev.spanheap.Spanheap;

/**
 * Spanheap's process-wide heap, {@code Spanheap.global()}, called on every operation as code that
 * does not own a heap calls it: the heap is a constant to the JIT, where {@link SpanheapPeer} reaches
 * its heap through fields.
 */
final class SpanheapGlobalPeer extends AddressSlots {

    @Override
    public void allocate(int slot, long size) {
        addresses[slot] = Spanheap.global().malloc(size);
    }

    @Override
    public void free(int slot) {
        Spanheap.global().free(addresses[slot]);
    }

    /** The global heap cannot be closed: it lives as long as the process. */
    @Override
    public void close() {
    }
}
