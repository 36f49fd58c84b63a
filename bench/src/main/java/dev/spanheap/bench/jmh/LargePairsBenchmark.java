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

/**
 * Allocate, write, free blocks of 64 KiB to 1 MiB (log-uniform) from one allocator shared by every
 * benchmark thread: run with one thread and with two, the ratio says how large blocks scale (the
 * figure is ns per pair on each thread, so perfect scaling keeps it unchanged).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class LargePairsBenchmark {

    private static final int SIZES = 1024;

    /** The smallest size, a power of two up to 1 MiB; the sizes are log-uniform from it to 1 MiB. */
    @Param("65536")
    public long minSize;

    private final long[] sizes = new long[SIZES];
    private Peer peer;
    private int slot;
    private int next;

    @Setup
    public void setUp(SharedPeerState shared) {
        peer = shared.instance;
        slot = shared.nextSlot();
        if (Long.bitCount(minSize) != 1 || minSize > 1 << 20) {
            throw new IllegalArgumentException("minSize must be a power of two up to 1 MiB: " + minSize);
        }
        int low = Long.numberOfTrailingZeros(minSize);
        SplittableRandom random = new SplittableRandom(64 + slot);
        for (int i = 0; i < SIZES; i++) {
            // log-uniform between minSize and 2^20
            sizes[i] = (long) Math.pow(2, low + (20 - low) * random.nextDouble());
        }
    }

    @Benchmark
    public void largePair() {
        long size = sizes[next++ & (SIZES - 1)];
        peer.allocate(slot, size);
        peer.write(slot, size);
        peer.free(slot);
    }
}
