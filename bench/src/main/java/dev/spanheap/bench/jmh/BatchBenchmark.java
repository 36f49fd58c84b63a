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

/** 1024 allocations of 16 B to 4 KiB, each written, then freed in shuffled order; ns per pair. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class BatchBenchmark {

    static final int BATCH = 1024;

    private final long[] sizes = new long[BATCH];
    private final int[] freeOrder = new int[BATCH];
    private Peer peer;

    @Setup
    public void setUp(PeerState state) {
        peer = state.open(BATCH, false);
        SplittableRandom random = new SplittableRandom(1024);
        for (int i = 0; i < BATCH; i++) {
            sizes[i] = 16 + random.nextInt(4096 - 16 + 1);
            freeOrder[i] = i;
        }
        for (int i = BATCH - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int swap = freeOrder[i];
            freeOrder[i] = freeOrder[j];
            freeOrder[j] = swap;
        }
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void batch() {
        for (int i = 0; i < BATCH; i++) {
            peer.allocate(i, sizes[i]);
            peer.write(i, i);
        }
        for (int i = 0; i < BATCH; i++) {
            peer.free(freeOrder[i]);
        }
    }
}
