package dev.spanheap.internal;

import dev.spanheap.MemStats;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The report of blocks still in use, like Arrow's allocator report at close: how many and how many
 * bytes (exact, from the statistics), and the allocation sites of the sampled ones among them,
 * largest first, with their stacks. Sites are estimates, as in the heap profile: with the default
 * rate only about one block per 512 KiB allocated carries its stack.
 */
final class LeakReport {

    private static final int TOP_SITES = 10;
    private static final int FRAMES_PER_SITE = 16;
    private static final System.Logger LOG = System.getLogger("dev.spanheap");

    private LeakReport() {
    }

    /**
     * {@link Heap#close()}'s report: logged at WARNING when {@code heap} still has blocks in use.
     * Nothing in it may stop the close: a logging backend that threw, or a Java heap too full to
     * build the text, used to leave the heap open, every later close throwing the same.
     */
    static void logAtClose(Heap heap) {
        try {
            MemStats stats = new HeapStatistics(heap).snapshot();
            if (stats.heapObjects() > 0) {
                LOG.log(System.Logger.Level.WARNING, describe(heap.name(), stats, heap.profiler(), true));
            }
        } catch (RuntimeException | OutOfMemoryError unreported) {
            // The memory goes back all the same; Heap#leakReport() can still be asked before a close.
        }
    }

    static String describe(String heapName, MemStats stats, HeapProfiler profiler, boolean closing) {
        StringBuilder out = new StringBuilder();
        out.append("Spanheap '").append(heapName).append(closing ? "' closed with " : "' has ")
                .append(stats.heapObjects()).append(stats.heapObjects() == 1 ? " block" : " blocks")
                .append(" (").append(stats.heapAlloc()).append(" bytes)")
                .append(closing ? " still in use" : " in use").append('.');
        if (stats.heapObjects() == 0) {
            return out.toString();
        }
        if (profiler.rate() == 0) {
            return out.append(" Heap profiling is off (profileRate 0); turn it on to see where blocks come from.")
                    .toString();
        }
        List<Map.Entry<List<StackTraceElement>, HeapProfiler.SiteTotals>> sites = inUseByStack(profiler);
        if (sites.isEmpty()) {
            if (profiler.rate() == 1) {
                // Every allocation takes a sample, so only frees that ran while this report read the
                // statistics and then the samples (a close racing frees) leave blocks counted here unsampled.
                return out.append(" None of them has a sample left, though every allocation is sampled:"
                        + " they were freed while this report was made.").toString();
            }
            return out.append(" None of them was sampled (one allocation per ").append(profiler.rate())
                    .append(" bytes allocated is); lower profileRate to see where they come from.").toString();
        }
        out.append(" Allocation sites of the sampled blocks in use (one sample per ").append(profiler.rate())
                .append(" bytes allocated; estimates):");
        int rank = 0;
        for (Map.Entry<List<StackTraceElement>, HeapProfiler.SiteTotals> site : sites) {
            if (++rank > TOP_SITES) {
                out.append(System.lineSeparator()).append("  ... and ").append(sites.size() - TOP_SITES)
                        .append(" more sites");
                break;
            }
            HeapProfiler.SiteTotals totals = site.getValue();
            long blocks = Math.round(totals.inuseObjects);
            out.append(System.lineSeparator()).append(String.format("  #%d: about %d bytes in %d %s (%d %s)",
                    rank, Math.round(totals.inuseBytes), blocks, blocks == 1 ? "block" : "blocks", totals.liveSamples,
                    totals.liveSamples == 1 ? "sample" : "samples"));
            List<StackTraceElement> frames = site.getKey();
            for (int i = 0; i < Math.min(frames.size(), FRAMES_PER_SITE); i++) {
                out.append(System.lineSeparator()).append("      at ").append(frames.get(i));
            }
            if (frames.size() > FRAMES_PER_SITE) {
                out.append(System.lineSeparator()).append("      ... ").append(frames.size() - FRAMES_PER_SITE)
                        .append(" more frames");
            }
        }
        return out.toString();
    }

    /** In-use totals by stack (block sizes merged), largest first. */
    private static List<Map.Entry<List<StackTraceElement>, HeapProfiler.SiteTotals>> inUseByStack(
            HeapProfiler profiler) {
        Map<List<StackTraceElement>, HeapProfiler.SiteTotals> byStack = new HashMap<>();
        profiler.sites().forEach((site, totals) -> {
            if (totals.liveSamples > 0) {
                HeapProfiler.SiteTotals merged = byStack.computeIfAbsent(site.frames(), f -> new HeapProfiler.SiteTotals());
                merged.inuseBytes += totals.inuseBytes;
                merged.inuseObjects += totals.inuseObjects;
                merged.liveSamples += totals.liveSamples;
            }
        });
        List<Map.Entry<List<StackTraceElement>, HeapProfiler.SiteTotals>> sorted = new ArrayList<>(byStack.entrySet());
        sorted.sort((a, b) -> Double.compare(b.getValue().inuseBytes, a.getValue().inuseBytes));
        return sorted;
    }
}
