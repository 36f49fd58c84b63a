package dev.spanheap.bench.peers;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Shared by the peers whose handle is a raw address: slots of addresses, writes through FFM. */
abstract class AddressSlots implements Peer {

    /** All of memory, for writing to raw addresses the way the native peers' users would. */
    static final MemorySegment EVERYTHING = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    long[] addresses;

    @Override
    public void open(int slots) {
        addresses = new long[slots];
    }

    @Override
    public final void write(int slot, long value) {
        EVERYTHING.set(ValueLayout.JAVA_LONG_UNALIGNED, addresses[slot], value);
    }

    @Override
    public final void touchPages(int slot, long size) {
        long address = addresses[slot];
        for (long offset = 0; offset < size; offset += 4096) {
            EVERYTHING.set(ValueLayout.JAVA_BYTE, address + offset, (byte) 1);
        }
        EVERYTHING.set(ValueLayout.JAVA_BYTE, address + size - 1, (byte) 1);
    }
}
