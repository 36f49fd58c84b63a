package dev.spanheap.bench.jmh;

import dev.spanheap.bench.peers.Peer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The pattern of Netty's own ByteBufAllocatorBenchmark: 8192 live buffers; each operation frees a
 * random old one and allocates a new one in its place, sizes 0 to {@link #maxSize}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class NettyPatternBenchmark {

    private static final int LIVE = 8192;
    private static final int STREAM = 1 << 16;

    private final int[] victims = new int[STREAM];
    private final long[] sizes = new long[STREAM];
    /** The largest size drawn: Netty's 64 KiB, or 4 KiB for the small buffers most requests use. */
    @Param("65536")
    public int maxSize;

    private Peer peer;
    private int next;

    @Setup
    public void setUp(PeerState state) {
        peer = state.open(LIVE, false);
        SplittableRandom random = new SplittableRandom(8192);
        for (int i = 0; i < STREAM; i++) {
            victims[i] = random.nextInt(LIVE);
            sizes[i] = random.nextInt(maxSize + 1);
        }
        for (int slot = 0; slot < LIVE; slot++) {
            peer.allocate(slot, sizes[slot]);
        }
    }

    @Benchmark
    public void replace() {
        int i = next++ & (STREAM - 1);
        int slot = victims[i];
        long size = sizes[i];
        peer.free(slot);
        peer.allocate(slot, size);
        if (size >= 8) {
            peer.write(slot, i);
        }
    }

    @TearDown
    public void tearDown() {
        for (int slot = 0; slot < LIVE; slot++) {
            peer.free(slot);
        }
    }
}
