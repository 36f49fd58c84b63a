package dev.spanheap.bench.memory;

import dev.spanheap.bench.ProcessRss;
import dev.spanheap.bench.peers.Peer;
import dev.spanheap.bench.peers.Peers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The fragmentation workload, for one allocator in this process: sizes drawn log-uniformly from
 * 16 B to 1 MiB, a fifth of the blocks long-lived and the rest short-lived, every page of every
 * block touched.
 * <ol>
 *   <li>fill: allocate until {@link #LIVE_TARGET} bytes are live;</li>
 *   <li>churn: {@code steps} times, free a random short-lived block and allocate another (one in
 *       five replaces a long-lived block instead), so that live bytes stay near the target while
 *       sizes mix in the address space;</li>
 *   <li>drop: free every short-lived block, leaving the long-lived ones scattered where they were
 *       allocated, then wait {@link #SETTLE_SECONDS} s for background release.</li>
 * </ol>
 * RSS is sampled every {@link #SAMPLE_EVERY} operations. Writes one line of results (bytes above
 * the RSS measured once the allocator was set up): peak RSS, live bytes at that peak, final RSS,
 * final live bytes.
 */
@Command(name = "fragmentation", mixinStandardHelpOptions = true,
        description = "Runs the fragmentation workload on one allocator and writes peak and final RSS.")
public final class Fragmentation implements Callable<Integer> {

    static final long LIVE_TARGET = 256L << 20;
    static final int SETTLE_SECONDS = 5;
    static final int SAMPLE_EVERY = 2000;
    private static final int SLOTS = 1 << 14;
    private static final double LOG_MIN = Math.log(16);
    private static final double LOG_MAX = Math.log(1 << 20);

    @Option(names = "--peer", required = true, description = "the allocator (a peer name, e.g. spanheap, tcmalloc)")
    private String peerName;

    @Option(names = "--steps", description = "churn steps (default 300000)")
    private int steps = 300_000;

    @Option(names = "--result", required = true, description = "where the result line goes")
    private Path result;

    private final long[] sizes = new long[SLOTS];
    private final int[] shortLived = new int[SLOTS];
    private final int[] longLived = new int[SLOTS];
    private final int[] freeSlots = new int[SLOTS];
    private int shortCount;
    private int longCount;
    private int freeCount;
    private long live;
    private long baseline;
    private long peakRss;
    private long liveAtPeak;
    private long operations;

    public static void main(String[] args) {
        System.exit(new CommandLine(new Fragmentation()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        SplittableRandom random = new SplittableRandom(1_048_576);
        try (Peer peer = Peers.require(peerName)) {
            peer.open(SLOTS);
            for (int slot = SLOTS - 1; slot >= 0; slot--) {
                freeSlots[freeCount++] = slot;
            }
            baseline = ProcessRss.bytes();
            while (live < LIVE_TARGET) {
                allocate(peer, random, random.nextInt(5) == 0);
            }
            for (int step = 0; step < steps; step++) {
                boolean replaceLongLived = random.nextInt(5) == 0 && longCount > 0;
                if (replaceLongLived) {
                    free(peer, longLived, random.nextInt(longCount), true);
                } else {
                    free(peer, shortLived, random.nextInt(shortCount), false);
                }
                // One block replaces the freed one in its list, whatever the sizes; then short-lived
                // blocks go or come until live bytes are back at the target (within one block), so
                // that neither the lists nor the live bytes drift.
                allocate(peer, random, replaceLongLived);
                while (live > LIVE_TARGET && shortCount > 0) {
                    free(peer, shortLived, random.nextInt(shortCount), false);
                }
                while (live < LIVE_TARGET) {
                    allocate(peer, random, false);
                }
            }
            while (shortCount > 0) {
                free(peer, shortLived, shortCount - 1, false);
            }
            for (int second = 0; second < SETTLE_SECONDS; second++) {
                Thread.sleep(1000);
                sample();
            }
            long finalRss = ProcessRss.bytes() - baseline;
            Files.writeString(result, String.format("%s,%d,%d,%d,%d%n", peerName, peakRss, liveAtPeak, finalRss, live));
            System.out.printf("fragmentation %s: peak RSS %d MiB (live %d MiB), final RSS %d MiB (live %d MiB)%n",
                    peerName, peakRss >> 20, liveAtPeak >> 20, finalRss >> 20, live >> 20);
            while (longCount > 0) {
                free(peer, longLived, longCount - 1, true);
            }
        }
        return 0;
    }

    private void allocate(Peer peer, SplittableRandom random, boolean longLivedBlock) {
        int slot = freeSlots[--freeCount];
        long size = (long) Math.exp(LOG_MIN + random.nextDouble() * (LOG_MAX - LOG_MIN));
        peer.allocate(slot, size);
        peer.touchPages(slot, size);
        sizes[slot] = size;
        live += size;
        if (longLivedBlock) {
            longLived[longCount++] = slot;
        } else {
            shortLived[shortCount++] = slot;
        }
        counted();
    }

    /** Frees the block of {@code list[index]}, moving the list's last entry into its place. */
    private void free(Peer peer, int[] list, int index, boolean longLivedList) {
        int slot = list[index];
        int last = longLivedList ? --longCount : --shortCount;
        list[index] = list[last];
        peer.free(slot);
        live -= sizes[slot];
        freeSlots[freeCount++] = slot;
        counted();
    }

    private void counted() {
        if (++operations % SAMPLE_EVERY == 0) {
            sample();
        }
    }

    private void sample() {
        long rss = ProcessRss.bytes() - baseline;
        if (rss > peakRss) {
            peakRss = rss;
            liveAtPeak = live;
        }
    }
}
