package dev.spanheap.bench.memory;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import dev.spanheap.bench.ProcessRss;
import java.io.PrintWriter;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The garbage-making program of the Cloudflare talk "Understanding Go Memory" (2013): each tick
 * allocate a buffer of 5 to 10 MB, write all of it, store it in a random slot of a 20-slot pool and
 * free the buffer it replaces. Every tick samples RSS and the heap's figures into a CSV. One mode per
 * JVM, so that each process's RSS is its own; {@link MemoryRun} starts them.
 */
@Command(name = "garbage-maker", mixinStandardHelpOptions = true,
        description = "One run of the garbage-making workload, sampled into a CSV file.")
public final class GarbageMaker implements Callable<Integer> {

    @Option(names = "--mode", required = true,
            description = "spanheap, spanheap-hugepages, spanheap-no-scavenger or allocate-direct")
    private String mode;

    @Option(names = "--ticks", description = "how many buffers to make (default 200)")
    private int ticks = 200;

    @Option(names = "--tick-millis", description = "pause after each buffer (default 50)")
    private long tickMillis = 50;

    @Option(names = "--csv", required = true, description = "where the samples go")
    private Path csv;

    @Option(names = "--heap-profile", description = "Spanheap modes: where to write the heap profile (pprof) at the end")
    private Path heapProfile;

    static final int SLOTS = 20;
    static final String HEADER = "tick,live,rss,heapSys,heapInuse,heapIdle,heapReleased";

    public static void main(String[] args) {
        System.exit(new CommandLine(new GarbageMaker()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        SplittableRandom random = new SplittableRandom(2013);
        long[] sizes = new long[SLOTS];
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(csv))) {
            out.println(HEADER);
            if (mode.equals("allocate-direct")) {
                ByteBuffer[] pool = new ByteBuffer[SLOTS];
                BufferPoolMXBean direct = ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class).stream()
                        .filter(pool1 -> pool1.getName().equals("direct")).findFirst().orElseThrow();
                ByteBuffer.allocateDirect(4096).put(0, (byte) 1);
                direct.getMemoryUsed();
                baseline(out);
                for (int tick = 0; tick < ticks; tick++) {
                    int size = 5_000_000 + random.nextInt(5_000_001);
                    ByteBuffer buffer = ByteBuffer.allocateDirect(size);
                    for (int i = 0; i < size; i += 4096) {
                        buffer.put(i, (byte) tick);
                    }
                    int slot = random.nextInt(SLOTS);
                    pool[slot] = buffer;
                    sizes[slot] = size;
                    long held = direct.getMemoryUsed();
                    out.printf("%d,%d,%d,%d,%d,%d,%d%n", tick, sum(sizes), ProcessRss.bytes(), held, held, 0, 0);
                    Thread.sleep(tickMillis);
                }
            } else {
                try (Spanheap heap = Spanheap.builder().scavenger(!mode.equals("spanheap-no-scavenger"))
                        .transparentHugePages(mode.equals("spanheap-hugepages")).build()) {
                    MemorySegment[] pool = new MemorySegment[SLOTS];
                    heap.free(heap.allocate(4096));
                    heap.memStats();
                    baseline(out);
                    for (int tick = 0; tick < ticks; tick++) {
                        int size = 5_000_000 + random.nextInt(5_000_001);
                        MemorySegment buffer = makeBuffer(heap, size, tick);
                        int slot = random.nextInt(SLOTS);
                        if (pool[slot] != null) {
                            heap.free(pool[slot]);
                        }
                        pool[slot] = buffer;
                        sizes[slot] = size;
                        MemStats stats = heap.memStats();
                        out.printf("%d,%d,%d,%d,%d,%d,%d%n", tick, sum(sizes), ProcessRss.bytes(), stats.heapSys(),
                                stats.heapInuse(), stats.heapIdle(), stats.heapReleased());
                        Thread.sleep(tickMillis);
                    }
                    if (heapProfile != null) {
                        try (OutputStream profile = Files.newOutputStream(heapProfile)) {
                            heap.writeHeapProfile(profile);
                        }
                    }
                    for (MemorySegment buffer : pool) {
                        if (buffer != null) {
                            heap.free(buffer);
                        }
                    }
                }
            }
        }
        return 0;
    }

    /** The workload's one allocation site, as the heap profile names it. */
    private static MemorySegment makeBuffer(Spanheap heap, int size, int tick) {
        MemorySegment buffer = heap.allocate(size);
        buffer.fill((byte) tick);
        return buffer;
    }

    /**
     * The starting point: RSS once the allocator is set up (its classes loaded, one small block
     * allocated and freed) and before the first buffer, so that RSS above it is the buffers' cost.
     */
    private static void baseline(PrintWriter out) {
        out.printf("-1,0,%d,0,0,0,0%n", ProcessRss.bytes());
    }

    private static long sum(long[] values) {
        long total = 0;
        for (long value : values) {
            total += value;
        }
        return total;
    }
}
