package dev.spanheap.bench.jmh;

import dev.spanheap.bench.peers.Peer;
import dev.spanheap.bench.peers.Peers;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/** The peer a fork measures; the runner passes only the peers installed on this machine. */
@State(Scope.Thread)
public class PeerState {

    @Param({Peers.SPANHEAP})
    public String peer;

    Peer instance;

    Peer open(int slots, boolean crossThread) {
        instance = Peers.require(peer);
        if (crossThread) {
            instance.prepareCrossThread();
        }
        instance.open(slots);
        return instance;
    }

    @TearDown
    public void close() {
        if (instance != null) {
            instance.close();
        }
    }
}
