package dev.spanheap.bench.jmh;

import dev.spanheap.bench.peers.Peer;
import dev.spanheap.bench.peers.Peers;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One peer shared by every benchmark thread of a fork (one heap, one allocator), unlike
 * {@link PeerState}'s one per thread; each thread takes a slot of its own with {@link #nextSlot}.
 */
@State(Scope.Benchmark)
public class SharedPeerState {

    /** More threads than any run has. */
    static final int MAX_THREADS = 64;
    /**
     * Slots handed out this far apart, from the second stride on: a peer keeps its slots in an
     * array, and two threads' slots in one cache line, or a slot in the line of the array's length
     * (which every thread reads for its bounds check), would make every allocate on one thread evict
     * the line from the other's core (false sharing), whatever the allocator.
     */
    static final int SLOT_STRIDE = 16;

    @Param({Peers.SPANHEAP})
    public String peer;

    Peer instance;
    private final AtomicInteger slots = new AtomicInteger();

    @Setup(Level.Trial)
    public void open() {
        instance = Peers.require(peer);
        instance.open((MAX_THREADS + 1) * SLOT_STRIDE);
    }

    int nextSlot() {
        return (slots.getAndIncrement() + 1) * SLOT_STRIDE;
    }

    @TearDown(Level.Trial)
    public void close() {
        instance.close();
    }
}
