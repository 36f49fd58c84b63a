package dev.spanheap.bench;

import dev.spanheap.bench.peers.Peer;
import dev.spanheap.bench.peers.Peers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.VerboseMode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The comparison: runs every workload for every installed peer in one JMH run, prints a table of
 * ns/op with each peer's ratio to Spanheap, and writes {@code report.md} and {@code comparison.png}.
 */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Measures Spanheap against the other off-heap allocators installed here.")
public final class Compare implements Callable<Integer> {

    /** JVM flags of every fork: native access for FFM, Netty's Unsafe use allowed without warnings. */
    static final String[] FORK_FLAGS = {
        "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Xmx3g",
        "-XX:MaxDirectMemorySize=3g", "-Dio.netty.leakDetection.level=disabled"};

    @Option(names = "--profile", description = "quick (about 4 minutes) or full (published figures)")
    private String profile = "quick";

    @Option(names = "--out", description = "where report.md and comparison.png go")
    private Path out = Path.of("target");

    @Option(names = "--peers", split = ",", description = "only these peers (default: all installed)")
    private List<String> onlyPeers = List.of();

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(new CommandLine(new Compare()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Profile chosen = Profile.valueOf(profile.toUpperCase(java.util.Locale.ROOT));
        List<String> peers = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        for (String name : Peers.names()) {
            if (!onlyPeers.isEmpty() && !onlyPeers.contains(name)) {
                continue;
            }
            Optional<Peer> peer = Peers.create(name);
            if (peer.isPresent()) {
                peer.get().close();
                peers.add(name);
            } else {
                notes.add(name + " is not installed here; its rows are skipped.");
            }
        }
        notes.forEach(note -> System.out.println("note: " + note));

        Results results = new Results(peers);
        for (Workload workload : Workload.all()) {
            ChainedOptionsBuilder options = new OptionsBuilder()
                    .include(workload.include())
                    .param("peer", peers.toArray(String[]::new))
                    .jvmArgsAppend(FORK_FLAGS)
                    .shouldFailOnError(false)
                    .verbosity(VerboseMode.SILENT);
            workload.params().forEach(options::param);
            if (workload.multiThreaded()) {
                options.threads(chosen.threadsWhereApplicable);
            }
            chosen.apply(options);
            System.out.printf("running %-28s for %d peers...%n", workload.label(), peers.size());
            for (RunResult run : new Runner(options.build()).run()) {
                String peer = run.getParams().getParam("peer");
                results.put(workload.label(), peer, run.getPrimaryResult().getScore(),
                        run.getPrimaryResult().getScoreError());
            }
        }

        String table = results.markdownTable();
        System.out.println();
        System.out.println(table);
        Files.createDirectories(out);
        Path chart = out.resolve("comparison.png");
        ComparisonChart.write(results, chart);
        Files.writeString(out.resolve("report.md"), Report.render(chosen, results, notes, chart.getFileName().toString()));
        System.out.println("wrote " + out.resolve("report.md") + " and " + chart);
        return 0;
    }

    /** ns/op by workload and peer, in the order they were measured. */
    static final class Results {
        final List<String> peers;
        final Map<String, Map<String, double[]>> byWorkload = new LinkedHashMap<>();

        Results(List<String> peers) {
            this.peers = peers;
        }

        void put(String workload, String peer, double score, double error) {
            byWorkload.computeIfAbsent(workload, w -> new LinkedHashMap<>()).put(peer, new double[] {score, error});
        }

        Optional<Double> score(String workload, String peer) {
            double[] result = byWorkload.getOrDefault(workload, Map.of()).get(peer);
            return result == null ? Optional.empty() : Optional.of(result[0]);
        }

        /** One row per workload: each peer's ns/op and, beside it, its ratio to Spanheap's. */
        String markdownTable() {
            StringBuilder table = new StringBuilder("| workload |");
            peers.forEach(peer -> table.append(' ').append(peer).append(" |"));
            table.append("\n|---|");
            peers.forEach(peer -> table.append("---:|"));
            table.append('\n');
            for (String workload : byWorkload.keySet()) {
                table.append("| ").append(workload).append(" |");
                Optional<Double> base = score(workload, Peers.SPANHEAP);
                for (String peer : peers) {
                    Optional<Double> score = score(workload, peer);
                    if (score.isEmpty()) {
                        table.append(" - |");
                    } else if (base.isEmpty() || peer.equals(Peers.SPANHEAP)) {
                        table.append(String.format(" %s |", ns(score.get())));
                    } else {
                        table.append(String.format(" %s (%.2fx) |", ns(score.get()), score.get() / base.get()));
                    }
                }
                table.append('\n');
            }
            return table.toString();
        }

        private static String ns(double value) {
            return value >= 100 ? String.format("%.0f", value) : String.format("%.1f", value);
        }
    }
}
