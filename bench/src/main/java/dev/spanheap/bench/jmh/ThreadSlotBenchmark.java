package dev.spanheap.bench.jmh;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * A 16-byte allocate, write and free on a thread whose thread id lands on a live thread's slot of
 * the heap's thread table ({@code collide = true}: another thread, whose id is equal to this one's
 * modulo 1024, registered first and stays alive), against a thread with a slot to itself. Issue 14:
 * the colliding thread used to take the slow path on every call.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ThreadSlotBenchmark {

    /** All of memory, for the write; a constant, so the JIT folds its checks. */
    private static final MemorySegment MEMORY = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    /** The first table's size in the allocator: ids equal modulo this share a slot. */
    private static final int FIRST_TABLE_SLOTS = 1024;

    @Param({"false", "true"})
    public boolean collide;

    private Spanheap heap;
    private final CountDownLatch finished = new CountDownLatch(1);
    private Thread holder;

    @Setup(Level.Trial)
    public void setUp() throws InterruptedException {
        heap = Spanheap.builder().scavenger(false).build();
        if (collide) {
            CountDownLatch registered = new CountDownLatch(1);
            Runnable holdSlot = () -> {
                heap.free(heap.malloc(16));
                registered.countDown();
                try {
                    finished.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            long mine = Thread.currentThread().threadId();
            do {
                holder = Thread.ofPlatform().daemon().unstarted(holdSlot);
            } while (((holder.threadId() ^ mine) & (FIRST_TABLE_SLOTS - 1)) != 0);
            holder.start();
            if (!registered.await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the slot holder did not register");
            }
        }
        heap.free(heap.malloc(16));
    }

    @Benchmark
    public long pair() {
        long address = heap.malloc(16);
        MEMORY.set(ValueLayout.JAVA_LONG_UNALIGNED, address, address);
        heap.free(address);
        return address;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        finished.countDown();
        if (holder != null) {
            holder.join();
        }
        heap.close();
    }
}
