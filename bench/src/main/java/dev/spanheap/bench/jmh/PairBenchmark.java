package dev.spanheap.bench.jmh;

import dev.spanheap.bench.peers.Peer;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/** Allocate, write 8 bytes, free: the cost of one short-lived buffer. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class PairBenchmark {

    @Param({"16", "256", "4096", "65536", "1048576"})
    public long size;

    private Peer peer;
    private long counter;

    @Setup
    public void setUp(PeerState state) {
        peer = state.open(1, false);
    }

    @Benchmark
    public void pair() {
        peer.allocate(0, size);
        peer.write(0, counter++);
        peer.free(0);
    }
}
