package dev.spanheap.bench.soak;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * One thread of the soak: keeps {@link #SLOTS} blocks live, replacing a random one per operation
 * with a block of a new size (log-uniform from 8 B to 1 MiB, most of them small). Every block carries
 * a stamp, its address mixed with a key, in its first and last eight bytes and a byte
 * pattern in between at page steps; the stamp is checked before the block is freed. One block in
 * eight is handed to the other worker, which checks and frees it: cross-thread frees.
 */
final class SoakWorker implements Runnable {

    static final int SLOTS = 2048;
    private static final long MAX_SIZE = 1L << 20;

    private final Spanheap heap;
    private final SplittableRandom random;
    /**
     * Mixed into every block's stamp. One for both workers: a block handed over is checked by the
     * other worker against the stamp its allocator wrote.
     */
    private static final long STAMP_KEY = 0x9E3779B97F4A7C15L;
    private final MemorySegment[] slots = new MemorySegment[SLOTS];
    /** Blocks the other worker handed over for freeing. */
    final BlockingQueue<MemorySegment> inbox = new ArrayBlockingQueue<>(1024);
    private SoakWorker partner;
    private final LongAdder operations;
    private final AtomicLong corruptions;
    private final long deadlineNanos;

    SoakWorker(Spanheap heap, long seed, LongAdder operations, AtomicLong corruptions, long deadlineNanos) {
        this.heap = heap;
        this.random = new SplittableRandom(seed);
        this.operations = operations;
        this.corruptions = corruptions;
        this.deadlineNanos = deadlineNanos;
    }

    void partner(SoakWorker other) {
        this.partner = other;
    }

    @Override
    public void run() {
        while (System.nanoTime() < deadlineNanos) {
            for (int i = 0; i < 1024; i++) {
                step();
            }
            drainInbox();
        }
        drainInbox();
        for (MemorySegment block : slots) {
            if (block != null) {
                checkAndFree(block);
            }
        }
    }

    private void step() {
        int slot = random.nextInt(SLOTS);
        MemorySegment old = slots[slot];
        if (old != null) {
            if ((random.nextInt() & 7) == 0 && partner.inbox.offer(old)) {
                // the partner frees it
            } else {
                checkAndFree(old);
            }
        }
        long size = Math.max(8, (long) Math.exp(random.nextDouble() * Math.log(MAX_SIZE)));
        MemorySegment block = heap.allocate(size);
        stamp(block);
        slots[slot] = block;
        operations.increment();
    }

    /**
     * Checks and frees the blocks handed over by the partner. The runner calls it once more after
     * both workers have ended, for what the partner handed over during its last round.
     */
    void drainInbox() {
        MemorySegment block;
        while ((block = inbox.poll()) != null) {
            checkAndFree(block);
        }
    }

    private long stampOf(MemorySegment block) {
        return block.address() ^ STAMP_KEY;
    }

    private void stamp(MemorySegment block) {
        long size = block.byteSize();
        long stamp = stampOf(block);
        block.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, stamp);
        block.set(ValueLayout.JAVA_LONG_UNALIGNED, tailOffset(size), stamp);
        for (long at = 4096; at < size - 8; at += 4096) {
            block.set(ValueLayout.JAVA_BYTE, at, (byte) stamp);
        }
    }

    /**
     * Where the tail stamp goes: the last eight bytes, or the first eight again for blocks under
     * 16 bytes, whose last eight bytes overlap the first (the stamps would overwrite each other).
     */
    private static long tailOffset(long size) {
        return size >= 16 ? size - 8 : 0;
    }

    private void checkAndFree(MemorySegment block) {
        long size = block.byteSize();
        long stamp = stampOf(block);
        boolean intact = block.get(ValueLayout.JAVA_LONG_UNALIGNED, 0) == stamp
                && block.get(ValueLayout.JAVA_LONG_UNALIGNED, tailOffset(size)) == stamp;
        for (long at = 4096; intact && at < size - 8; at += 4096) {
            intact = block.get(ValueLayout.JAVA_BYTE, at) == (byte) stamp;
        }
        if (!intact) {
            corruptions.incrementAndGet();
        }
        heap.free(block);
    }
}
