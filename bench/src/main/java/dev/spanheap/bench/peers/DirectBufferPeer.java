package dev.spanheap.bench.peers;

import java.nio.ByteBuffer;

/** {@code ByteBuffer.allocateDirect}: zeroed memory, freed only when the GC finds the buffer dead. */
final class DirectBufferPeer implements Peer {

    private ByteBuffer[] buffers;

    @Override
    public void open(int slots) {
        buffers = new ByteBuffer[slots];
    }

    @Override
    public void allocate(int slot, long size) {
        buffers[slot] = ByteBuffer.allocateDirect((int) size);
    }

    @Override
    public void write(int slot, long value) {
        buffers[slot].putLong(0, value);
    }

    @Override
    public void free(int slot) {
        // As its users do: drop the reference and let the GC's cleaner free the memory.
        buffers[slot] = null;
    }

    @Override
    public void close() {
    }
}
