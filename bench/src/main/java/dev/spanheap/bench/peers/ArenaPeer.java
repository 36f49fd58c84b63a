package dev.spanheap.bench.peers;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One {@link Arena} per allocation, closed to free it: confined, or shared where blocks cross
 * threads (closing a shared arena makes the JVM handshake every thread).
 */
final class ArenaPeer implements Peer {

    private boolean shared;
    private Arena[] arenas;
    private MemorySegment[] segments;

    @Override
    public void open(int slots) {
        arenas = new Arena[slots];
        segments = new MemorySegment[slots];
    }

    @Override
    public void allocate(int slot, long size) {
        Arena arena = shared ? Arena.ofShared() : Arena.ofConfined();
        arenas[slot] = arena;
        segments[slot] = arena.allocate(size);
    }

    @Override
    public void prepareCrossThread() {
        shared = true;
    }

    @Override
    public void write(int slot, long value) {
        segments[slot].set(ValueLayout.JAVA_LONG_UNALIGNED, 0, value);
    }

    @Override
    public void free(int slot) {
        arenas[slot].close();
        arenas[slot] = null;
        segments[slot] = null;
    }

    @Override
    public void close() {
    }
}
