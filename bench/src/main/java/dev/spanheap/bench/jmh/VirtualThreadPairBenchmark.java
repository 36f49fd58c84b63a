package dev.spanheap.bench.jmh;

import dev.spanheap.bench.peers.Peer;
import dev.spanheap.bench.peers.Peers;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * {@link PairBenchmark}'s allocate, write and free on virtual threads, as a server that runs each
 * request on one does: each invocation starts a virtual thread that does {@link #PAIRS} pairs and
 * waits for it (the start and the join cost a few microseconds, well under 1 ns a pair). One
 * allocator serves every benchmark thread, so with two of them two virtual threads share it from two
 * carriers. Peers whose handles belong to one thread (a {@code LocalHeap}, a confined arena) use
 * their shared form, since the virtual threads are not the thread that opened the peer.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class VirtualThreadPairBenchmark {

    static final int PAIRS = 10_000;

    /** The allocator all benchmark threads share, opened for handles that cross threads. */
    @State(Scope.Benchmark)
    public static class SharedAllocator {

        @Param({Peers.SPANHEAP})
        public String peer;

        Peer instance;
        private final AtomicInteger threads = new AtomicInteger();

        @Setup(Level.Trial)
        public void open() {
            instance = Peers.require(peer);
            instance.prepareCrossThread();
            instance.open((SharedPeerState.MAX_THREADS + 1) * SharedPeerState.SLOT_STRIDE);
        }

        /** A slot of its own for each benchmark thread, apart from the others' (see SharedPeerState). */
        int nextSlot() {
            return (threads.getAndIncrement() + 1) * SharedPeerState.SLOT_STRIDE;
        }

        @TearDown(Level.Trial)
        public void close() {
            instance.close();
        }
    }

    @Param({"16"})
    public long size;

    private Runnable pairs;

    @Setup
    public void setUp(SharedAllocator shared) {
        Peer peer = shared.instance;
        int slot = shared.nextSlot();
        long bytes = size;
        pairs = () -> {
            for (int i = 0; i < PAIRS; i++) {
                peer.allocate(slot, bytes);
                peer.write(slot, i);
                peer.free(slot);
            }
        };
    }

    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public void pairs() throws InterruptedException {
        Thread.ofVirtual().start(pairs).join();
    }
}
