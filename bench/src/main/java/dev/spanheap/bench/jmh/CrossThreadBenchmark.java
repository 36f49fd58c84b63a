package dev.spanheap.bench.jmh;

import dev.spanheap.bench.peers.Peer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
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
 * The benchmark thread allocates and writes; a second thread frees, fed through a bounded
 * single-producer single-consumer ring of slots. Each invocation moves {@link #PAIRS} blocks and
 * waits until the consumer has freed them all, so the figure is ns per allocate+free pair with the
 * free on another thread (the common case of a server handing buffers to an I/O thread).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CrossThreadBenchmark {

    static final int PAIRS = 1024;
    private static final int RING = 256;

    @Param({"256"})
    public long size;

    private Peer peer;
    /** Slots published by the producer (release) and read by the consumer (acquire). */
    private final AtomicLong produced = new AtomicLong();
    /** Slots freed by the consumer. */
    private final AtomicLong consumed = new AtomicLong();
    private volatile boolean running;
    private volatile Throwable consumerFailure;
    private Thread consumer;

    @Setup(Level.Trial)
    public void setUp(PeerState state) {
        peer = state.open(RING, true);
        running = true;
        consumer = Thread.ofPlatform().daemon().name("consumer").start(this::consume);
    }

    private void consume() {
        try {
            long next = consumed.get();
            while (running) {
                if (next < produced.getAcquire()) {
                    peer.free((int) (next % RING));
                    consumed.setRelease(++next);
                } else {
                    Thread.onSpinWait();
                }
            }
        } catch (Throwable e) {
            consumerFailure = e;
        }
    }

    private void waitForConsumer() {
        if (consumerFailure != null) {
            throw new IllegalStateException("the freeing thread failed", consumerFailure);
        }
        Thread.onSpinWait();
    }

    @Benchmark
    @OperationsPerInvocation(PAIRS)
    public void crossThread() {
        long next = produced.get();
        long end = next + PAIRS;
        while (next < end) {
            if (next - consumed.getAcquire() < RING) {
                int slot = (int) (next % RING);
                peer.allocate(slot, size);
                peer.write(slot, next);
                produced.setRelease(++next);
            } else {
                waitForConsumer();
            }
        }
        while (consumed.getAcquire() < end) {
            waitForConsumer();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        running = false;
        consumer.join();
    }
}
