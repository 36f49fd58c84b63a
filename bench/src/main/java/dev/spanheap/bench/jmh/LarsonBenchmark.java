package dev.spanheap.bench.jmh;

import dev.spanheap.bench.peers.Peer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A port of mimalloc-bench's larson (a server simulation): each benchmark thread owns 1000 slots;
 * every round a new platform thread takes the slots over and replaces random victims with blocks of
 * 8 to 1000 bytes, so blocks allocated by one thread are freed by a later one.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class LarsonBenchmark {

    static final int SLOTS = 1000;
    static final int ROUND = 50_000;

    private Peer peer;
    private final SplittableRandom random = new SplittableRandom(1000);

    @Setup
    public void setUp(PeerState state) {
        peer = state.open(SLOTS, true);
        for (int slot = 0; slot < SLOTS; slot++) {
            peer.allocate(slot, 8 + random.nextInt(993));
        }
    }

    @Benchmark
    @OperationsPerInvocation(ROUND)
    public void round() throws InterruptedException {
        SplittableRandom roundRandom = random.split();
        Thread worker = Thread.ofPlatform().start(() -> {
            for (int i = 0; i < ROUND; i++) {
                int victim = roundRandom.nextInt(SLOTS);
                peer.free(victim);
                peer.allocate(victim, 8 + roundRandom.nextInt(993));
                peer.write(victim, i);
            }
        });
        worker.join();
    }

    @TearDown
    public void tearDown() {
        for (int slot = 0; slot < SLOTS; slot++) {
            peer.free(slot);
        }
    }
}
