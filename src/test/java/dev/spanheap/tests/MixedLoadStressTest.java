package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.LocalHeap;
import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Everything a service does to one heap at once: platform threads (through the heap and through
 * {@link LocalHeap}) and virtual threads allocate blocks from 1 B to 4 MiB at alignments up to
 * 2 MiB, zeroed or not, resize them, free them or hand them to each other through shared slots,
 * open and close arenas, and try to free addresses inside their own blocks; meanwhile an
 * operator thread releases memory, reads the statistics, writes heap profiles and leak reports,
 * and the scavenger runs with a soft limit that keeps it busy. Each block carries a tag in its
 * first, middle and last words, checked before it is resized or freed, so a block handed out
 * twice or overwritten by the heap's own bookkeeping fails the test; at the end every block is
 * gone, the counts balance and the heap verifies. Bounded by step counts; the system property
 * {@code spanheap.stressSteps} lengthens a run and {@code spanheap.stressSeed} varies it, to hunt for
 * rarer interleavings.
 */
class MixedLoadStressTest {

    private static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final int STEPS = Integer.getInteger("spanheap.stressSteps", 6000);
    private static final long SEED = Long.getLong("spanheap.stressSeed", 0);
    private static final int PLATFORM_THREADS = 3;
    private static final int VIRTUAL_THREADS = 6;
    private static final int MOST_HELD = 48;

    /** A block and the tag written at its first, middle and last words. */
    private record Block(long address, long size, long tag) {

        void write() {
            for (long offset : offsets(size)) {
                ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, address + offset, tag + offset);
            }
        }

        void check() {
            for (long offset : offsets(size)) {
                assertThat(ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, address + offset))
                        .as("word %d of the %d-byte block at 0x%x", offset, size, address).isEqualTo(tag + offset);
            }
        }

        /** After a resize to {@code newSize}: the tags that lie within both sizes must have stayed. */
        void checkKeptIn(long newAddress, long newSize) {
            for (long offset : offsets(size)) {
                if (offset + 8 <= newSize) {
                    assertThat(ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, newAddress + offset))
                            .as("word %d of 0x%x resized from %d to %d bytes at 0x%x", offset, address, size,
                                    newSize, newAddress)
                            .isEqualTo(tag + offset);
                }
            }
        }

        /** Words that do not overlap: the first from 8 bytes, the last from 16, a middle one from 24. */
        static long[] offsets(long size) {
            if (size < 8) {
                return new long[0];
            } else if (size < 16) {
                return new long[] {0};
            } else if (size < 24) {
                return new long[] {0, size - 8};
            }
            return new long[] {0, (size / 2) & ~7L, size - 8};
        }
    }

    @ParameterizedTest(name = "profileRate {0}, checked {1}, huge pages {2}")
    @CsvSource({"4096, false, false", "0, true, false", "1, false, true", "524288, true, true"})
    void everyOperationAtOnceKeepsEveryBlockAndTheHeapConsistent(long profileRate, boolean checked,
                                                                 boolean hugePages) throws Exception {
        try (Spanheap heap = Spanheap.builder().profileRate(profileRate).checked(checked)
                .transparentHugePages(hugePages).softLimit(96L << 20).retainPercent(100).build()) {
            AtomicReferenceArray<Block> slots = new AtomicReferenceArray<>(256);
            AtomicReference<Throwable> failure = new AtomicReference<>();
            AtomicBoolean done = new AtomicBoolean();
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < PLATFORM_THREADS + VIRTUAL_THREADS; t++) {
                boolean platform = t < PLATFORM_THREADS;
                SplittableRandom random = new SplittableRandom(SEED * 1009 + profileRate * 31 + t);
                Runnable work = () -> {
                    try {
                        new Worker(heap, platform && random.nextBoolean() ? heap.localHeap() : null, random, slots,
                                failure).run();
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                };
                workers.add(platform ? Thread.ofPlatform().start(work) : Thread.ofVirtual().start(work));
            }
            Thread operator = Thread.ofPlatform().start(() -> {
                try {
                    operate(heap, done);
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            for (Thread worker : workers) {
                assertThat(worker.join(Duration.ofMinutes(3))).as("%s finished", worker).isTrue();
            }
            done.set(true);
            assertThat(operator.join(Duration.ofMinutes(1))).as("operator finished").isTrue();
            assertThat(failure.get()).isNull();
            for (int i = 0; i < slots.length(); i++) {
                Block block = slots.getAndSet(i, null);
                if (block != null) {
                    block.check();
                    heap.free(block.address());
                }
            }
            heap.verify();
            MemStats stats = heap.memStats();
            assertThat(stats.heapObjects()).as(stats.toString()).isZero();
            assertThat(stats.heapAlloc()).isZero();
            assertThat(stats.frees()).isEqualTo(stats.mallocs());
            assertThat(stats.mallocs()).isGreaterThan((long) STEPS * (PLATFORM_THREADS + VIRTUAL_THREADS) / 4);
            heap.releaseMemory();
            heap.verify();
            assertThat(heap.memStats().heapReleased()).isLessThanOrEqualTo(heap.memStats().heapIdle());
        }
    }

    /** The operator's loop: what monitoring and an operator's console do to a heap in use. */
    private static void operate(Spanheap heap, AtomicBoolean done) throws Exception {
        SplittableRandom random = new SplittableRandom(SEED + 99);
        while (!done.get()) {
            switch (random.nextInt(5)) {
                case 0 -> heap.releaseMemory();
                case 1 -> {
                    MemStats stats = heap.memStats();
                    assertThat(stats.heapObjects()).isNotNegative();
                    assertThat(stats.heapReleased()).isNotNegative();
                }
                case 2 -> heap.writeHeapProfile(OutputStream.nullOutputStream());
                case 3 -> assertThat(heap.leakReport()).isNotEmpty();
                default -> Thread.sleep(1);
            }
        }
    }

    /** One thread's share of the load; its own blocks live in {@code held}. */
    private static final class Worker {
        private final Spanheap heap;
        private final LocalHeap local;
        private final SplittableRandom random;
        private final AtomicReferenceArray<Block> slots;
        private final AtomicReference<Throwable> failure;
        private final List<Block> held = new ArrayList<>();

        Worker(Spanheap heap, LocalHeap local, SplittableRandom random, AtomicReferenceArray<Block> slots,
               AtomicReference<Throwable> failure) {
            this.heap = heap;
            this.local = local;
            this.random = random;
            this.slots = slots;
            this.failure = failure;
        }

        void run() {
            for (int step = 0; step < STEPS && failure.get() == null; step++) {
                int op = held.size() >= MOST_HELD ? 5 : random.nextInt(20);
                if (op < 5 || held.isEmpty()) {
                    held.add(allocate());
                } else if (op < 9) {
                    free(held.remove(random.nextInt(held.size())));
                } else if (op < 11) {
                    Block old = slots.getAndSet(random.nextInt(slots.length()), held.remove(random.nextInt(held.size())));
                    if (old != null) {
                        free(old);
                    }
                } else if (op < 13) {
                    held.add(resize(held.remove(random.nextInt(held.size()))));
                } else if (op < 14) {
                    interiorFreeIsRefused(held.get(random.nextInt(held.size())));
                } else if (op < 15) {
                    useAnArena();
                } else {
                    held.add(allocate());
                }
            }
            for (Block block : held) {
                free(block);
            }
        }

        private long size() {
            int kind = random.nextInt(100);
            if (kind < 60) {
                return 1 + random.nextInt(1024);
            } else if (kind < 90) {
                return 1 + random.nextInt(64 << 10);
            }
            return 1 + random.nextInt(4 << 20);
        }

        private Block allocate() {
            long size = size();
            long address;
            int how = random.nextInt(10);
            if (how < 2) {
                address = heap.allocateZeroed(size).address();
                for (long offset : Block.offsets(size)) {
                    assertThat(ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, address + offset))
                            .as("word %d of a zeroed %d-byte block", offset, size).isZero();
                }
            } else if (how < 4) {
                long alignment = 1L << random.nextInt(random.nextInt(8) == 0 ? 22 : 13);
                address = (local != null ? local.allocate(size, alignment) : heap.allocate(size, alignment)).address();
                assertThat(address % alignment).as("0x%x aligned to %d", address, alignment).isZero();
            } else {
                address = local != null ? local.malloc(size) : heap.malloc(size);
            }
            assertThat(heap.usableSize(address)).isGreaterThanOrEqualTo(size);
            Block block = new Block(address, size, random.nextLong() & ~0xFFFFFFL);
            block.write();
            return block;
        }

        private void free(Block block) {
            block.check();
            if (local != null) {
                local.free(block.address());
            } else {
                heap.free(block.address());
            }
        }

        private Block resize(Block block) {
            block.check();
            long newSize = size();
            long address = heap.reallocate(block.address(), newSize);
            block.checkKeptIn(address, newSize);
            Block resized = new Block(address, newSize, random.nextLong() & ~0xFFFFFFL);
            resized.write();
            return resized;
        }

        private void interiorFreeIsRefused(Block block) {
            if (block.size() < 32) {
                return;
            }
            assertThatThrownBy(() -> heap.free(block.address() + 16)).isInstanceOf(IllegalArgumentException.class);
            block.check();
        }

        private void useAnArena() {
            try (Arena arena = random.nextBoolean() ? heap.newConfinedArena() : heap.newSharedArena()) {
                List<MemorySegment> segments = new ArrayList<>();
                for (int i = random.nextInt(1, 12); i > 0; i--) {
                    MemorySegment segment = arena.allocate(1 + random.nextInt(20_000), 1L << random.nextInt(7));
                    assertThat(segment.get(ValueLayout.JAVA_BYTE, segment.byteSize() - 1)).isZero();
                    segment.fill((byte) i);
                    segments.add(segment);
                }
                for (int i = 0; i < segments.size(); i++) {
                    MemorySegment segment = segments.get(i);
                    assertThat(segment.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo((byte) (segments.size() - i));
                    assertThat(segment.get(ValueLayout.JAVA_BYTE, segment.byteSize() - 1))
                            .isEqualTo((byte) (segments.size() - i));
                }
            }
        }
    }
}
