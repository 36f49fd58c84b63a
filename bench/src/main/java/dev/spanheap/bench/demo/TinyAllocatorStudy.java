package dev.spanheap.bench.demo;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import java.util.SplittableRandom;

/**
 * Does Go's tiny allocator pay when frees are explicit? Allocates many blocks of 1 to 15 bytes
 * through Spanheap (each rounded to the 8- or 16-byte class) and through a simulation of Go's tiny
 * allocator (requests share 16-byte blocks, bumped with alignment 8, 4 or 2 by the request's size),
 * which with explicit frees also needs a count of live pieces per block to know when the block can
 * go. Prints the bytes each needs. The allocation speed of the tiny path is not the question: a
 * bump is as cheap as a pop; its costs are on free (a read-modify-write of a shared count, atomic
 * when a piece is freed on another thread) and in safety (no room for a double-free cookie).
 */
@Command(name = "tiny-allocator-study", mixinStandardHelpOptions = true,
        description = "Compares size classes with Go's tiny packing for requests of 1 to 15 bytes.")
public final class TinyAllocatorStudy implements Callable<Integer> {

    @Option(names = "--requests", description = "how many requests to make (default 1000000)")
    private int requests = 1_000_000;

    static final int TINY_BLOCK = 16;
    /** One byte per tiny block: how many of its pieces are live. */
    static final int PIECE_COUNT_BYTES = 1;

    public static void main(String[] args) {
        System.exit(new CommandLine(new TinyAllocatorStudy()).execute(args));
    }

    @Override
    public Integer call() {
        SplittableRandom random = new SplittableRandom(15);
        long requested = 0;
        long tinyBlocks = 0;
        int offset = TINY_BLOCK;
        try (Spanheap heap = Spanheap.builder().scavenger(false).build()) {
            for (int i = 0; i < requests; i++) {
                int size = 1 + random.nextInt(15);
                requested += size;
                heap.malloc(size);
                int align = (size & 7) == 0 ? 8 : (size & 3) == 0 ? 4 : (size & 1) == 0 ? 2 : 1;
                offset = (offset + align - 1) & -align;
                if (offset + size > TINY_BLOCK) {
                    tinyBlocks++;
                    offset = 0;
                }
                offset += size;
            }
            MemStats stats = heap.memStats();
            long classes = stats.heapAlloc();
            long tiny = tinyBlocks * (TINY_BLOCK + PIECE_COUNT_BYTES);
            System.out.printf("%d requests of 1-15 bytes, %d bytes asked for%n", requests, requested);
            System.out.printf("size classes (8 and 16 bytes): %d bytes of blocks, %.2f per request; heapInuse %d%n",
                    classes, classes / (double) requests, stats.heapInuse());
            System.out.printf("Go's tiny packing: %d blocks, %d bytes with piece counts, %.2f per request%n",
                    tinyBlocks, tiny, tiny / (double) requests);
            System.out.printf("tiny packing saves %.1f%% of the memory%n", 100.0 * (classes - tiny) / classes);
        }
        return 0;
    }
}
