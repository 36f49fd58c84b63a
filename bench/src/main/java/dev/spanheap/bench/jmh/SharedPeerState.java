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

    /** More slots than any run has threads. */
    static final int SLOTS = 64;

    @Param({Peers.SPANHEAP})
    public String peer;

    Peer instance;
    private final AtomicInteger slots = new AtomicInteger();

    @Setup(Level.Trial)
    public void open() {
        instance = Peers.require(peer);
        instance.open(SLOTS);
    }

    int nextSlot() {
        return slots.getAndIncrement();
    }

    @TearDown(Level.Trial)
    public void close() {
        instance.close();
    }
}
