package dev.spanheap.bench.memory;

import dev.spanheap.bench.MarkdownTable;
import dev.spanheap.bench.peers.Peers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs {@link Fragmentation} for Spanheap and the native allocators, each in a JVM of its own (an
 * allocator's RSS is only its own in a process it has to itself), and tabulates peak and final RSS.
 */
final class FragmentationRun {

    static final List<String> PEERS = List.of("spanheap", "spanheap-hugepages", "tcmalloc", "mimalloc", "glibc");

    private FragmentationRun() {
    }

    /** The markdown section: the workload, one row per allocator, and which allocators were missing. */
    static String run(Path out, int steps) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        String classPath = System.getProperty("java.class.path");
        List<String[]> rows = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String peer : PEERS) {
            if (!peer.startsWith("spanheap") && Peers.create(peer).isEmpty()) {
                missing.add(peer);
                continue;
            }
            Path result = out.resolve("fragmentation-" + peer + ".csv");
            System.out.printf("fragmentation workload: %s, %d churn steps...%n", peer, steps);
            Process process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xms128m", "-Xmx128m",
                    "-XX:+AlwaysPreTouch", "-cp", classPath, Fragmentation.class.getName(), "--peer=" + peer,
                    "--steps=" + steps, "--result=" + result).inheritIO().start();
            if (process.waitFor() != 0) {
                throw new IllegalStateException("fragmentation run of " + peer + " failed with exit code "
                        + process.exitValue());
            }
            rows.add(Files.readString(result).trim().split(","));
        }
        return "## Fragmentation\n\n" + table(rows)
                + "\nSizes log-uniform from 16 B to 1 MiB, every page touched; " + Fragmentation.LIVE_TARGET / (1 << 20)
                + " MiB live, a fifth of the blocks long-lived; " + steps + " churn steps (free a block, allocate "
                + "another), then every short-lived block freed and " + Fragmentation.SETTLE_SECONDS
                + " s of waiting. RSS above the process's RSS once the allocator was set up; each allocator in its "
                + "own JVM (`dev.spanheap.bench.memory.Fragmentation`)."
                + (missing.isEmpty() ? "" : " Not installed here, so not run: " + String.join(", ", missing) + ".")
                + "\n";
    }

    static String table(List<String[]> rows) {
        MarkdownTable table = MarkdownTable.withColumns("allocator", "peak RSS MiB", "live at peak MiB",
                "peak RSS / live", "final RSS MiB", "final live MiB", "final RSS / live");
        for (String[] row : rows) {
            long peak = Long.parseLong(row[1]);
            long liveAtPeak = Long.parseLong(row[2]);
            long last = Long.parseLong(row[3]);
            long finalLive = Long.parseLong(row[4]);
            table.row(row[0], mib(peak), mib(liveAtPeak), String.format("%.2f", (double) peak / liveAtPeak),
                    mib(last), mib(finalLive), String.format("%.2f", (double) last / finalLive));
        }
        return table.render();
    }

    private static String mib(long bytes) {
        return String.format("%.0f", bytes / 1048576.0);
    }
}
