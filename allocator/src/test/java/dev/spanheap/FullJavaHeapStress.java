package dev.spanheap;

import java.util.SplittableRandom;

/**
 * A stress run, not a test: the heap's operations with the Java heap full, so that an
 * {@link OutOfMemoryError} strikes wherever the heap allocates Java objects; {@code verify()}
 * after every round. It found two faults that left the heap inconsistent (a span record cleared
 * through an allocated slice halfway through a page-heap update; a sample recorded for a span that
 * was then not published), and it is too slow and too dependent on the collector's timing for the
 * build. Run it by hand after changing what the heap allocates on its slow paths, in a JVM of its own
 * with a small heap, from {@code allocator/} after {@code mvn -B test-compile}:
 *
 * <pre>{@code
 * java -Xmx32m --enable-native-access=ALL-UNNAMED \
 *     -cp target/classes:target/test-classes dev.spanheap.FullJavaHeapStress [seed] [rounds]
 * }</pre>
 *
 * It prints {@code passed} or the first broken invariant (exit status 1). An OutOfMemoryError in
 * this class's own bookkeeping, outside the heap's calls, ends the run without a verdict.
 */
public final class FullJavaHeapStress {

    private static final int SLOTS = 4096;
    private static final int OPS_PER_ROUND = 300;

    /** Filled before each round and dropped after it: the Java heap stays full while the heap works. */
    @SuppressWarnings({"unused", "MismatchedReadAndWriteOfArray"})
    private static Object[] ballast;

    private FullJavaHeapStress() {
    }

    public static void main(String[] args) throws InterruptedException {
        long seed = args.length > 0 ? Long.parseLong(args[0]) : 1;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        SplittableRandom random = new SplittableRandom(seed);
        long[] live = new long[SLOTS];
        // A free that threw may or may not have taken effect.
        boolean[] freeUnknown = new boolean[SLOTS];
        // Frequent samples: recording one allocates.
        try (Spanheap heap = Spanheap.builder().profileRate(64 << 10).build()) {
            for (int round = 0; round < rounds; round++) {
                // Every other round on a thread of its own, which registers with the Java heap full:
                // after the first, it adopts the cache of the one before.
                long roundSeed = random.nextLong();
                Runnable work = () -> runRound(heap, new SplittableRandom(roundSeed), live, freeUnknown);
                if (round % 2 == 1) {
                    Thread worker = new Thread(work);
                    worker.start();
                    worker.join();
                } else {
                    work.run();
                }
                ballast = null;
                for (int i = 0; i < SLOTS; i++) {
                    if (freeUnknown[i]) {
                        try {
                            heap.free(live[i]);
                        } catch (IllegalStateException alreadyFree) {
                            // The first free had taken effect.
                        }
                        freeUnknown[i] = false;
                        live[i] = 0;
                    }
                }
                try {
                    heap.verify();
                } catch (IllegalStateException broken) {
                    fail("round " + round + ": " + broken.getMessage());
                }
            }
            for (long address : live) {
                if (address != 0) {
                    heap.free(address);
                }
            }
            heap.verify();
            // A cache lost with its objects (say, by a registration that failed halfway) would leave
            // its objects counted as allocated.
            long heapAlloc = heap.memStats().heapAlloc();
            if (heapAlloc != 0) {
                fail("everything freed, but heapAlloc is " + heapAlloc);
            }
        }
        System.out.println("passed");
    }

    private static void runRound(Spanheap heap, SplittableRandom random, long[] live, boolean[] freeUnknown) {
        fill(random);
        for (int k = 0; k < OPS_PER_ROUND; k++) {
            int i = random.nextInt(SLOTS);
            if (freeUnknown[i]) {
                continue;
            }
            try {
                if (live[i] != 0) {
                    freeUnknown[i] = true;
                    heap.free(live[i]);
                    freeUnknown[i] = false;
                    live[i] = 0;
                } else {
                    long size = random.nextInt(4) == 0 ? 1 + random.nextInt(2 << 20) : 1 + random.nextInt(4096);
                    live[i] = heap.malloc(size);
                }
            } catch (OutOfMemoryError expected) {
                // Where it struck is the point.
            }
        }
    }

    private static void fail(String message) {
        System.out.println(message);
        System.exit(1);
    }

    /** Fills the Java heap with arrays until it is full. */
    private static void fill(SplittableRandom random) {
        ballast = new Object[1 << 16];
        try {
            for (int n = 0; n < ballast.length; n++) {
                ballast[n] = new long[1 + random.nextInt(512)];
            }
        } catch (OutOfMemoryError full) {
            // Full.
        }
    }
}
