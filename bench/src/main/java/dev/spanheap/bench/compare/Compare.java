package dev.spanheap.bench.compare;

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
import dev.spanheap.bench.MarkdownTable;
import dev.spanheap.bench.echo.EchoComparison;
import org.openjdk.jmh.results.format.ResultFormatType;
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

    @Option(names = "--readme", description = "the README whose comparison section a full run rewrites")
    private Path readme;

    @Option(names = "--peers", split = ",", description = "only these peers (default: all installed)")
    private List<String> onlyPeers = List.of();

    @Option(names = "--ffm", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "also measure the segment API and arena lifetimes (default: true)")
    private boolean ffm;

    @Option(names = "--echo", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "also run the Netty echo server with each allocator (default: true)")
    private boolean echo;

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
            if (name.equals(Peers.SPANHEAP_NETTY) || name.equals(Peers.SPANHEAP_UNPROFILED)
                    || name.equals(Peers.SPANHEAP_HUGE_PAGES)) {
                // Not columns: the adapter stands in Spanheap's column where a workload says so, the
                // unprofiled heap is the baseline of the profiling-cost benchmark, and huge pages are
                // an option measured on its own (README, "Transparent huge pages").
                continue;
            }
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
        Files.createDirectories(out);
        for (Workload workload : Workload.all()) {
            Path json = out.resolve("jmh-" + workload.slug() + ".json");
            ChainedOptionsBuilder options = new OptionsBuilder()
                    .include(workload.include())
                    .param("peer", peers.stream().map(workload::peerFor).toArray(String[]::new))
                    .jvmArgsAppend(FORK_FLAGS)
                    .shouldFailOnError(false)
                    .verbosity(VerboseMode.SILENT)
                    .resultFormat(ResultFormatType.JSON)
                    .result(json.toString());
            workload.params().forEach(options::param);
            if (workload.multiThreaded()) {
                options.threads(chosen.threadsWhereApplicable);
            }
            chosen.apply(options);
            System.out.printf("running %-28s for %d peers...%n", workload.label(), peers.size());
            new Runner(options.build()).run();
            JmhResults.read(json).forEach(result -> results.put(workload.label(), workload.columnOf(result.peer()),
                    result.score(), result.error()));
        }

        String ffmTables = "";
        if (ffm) {
            Path json = out.resolve("jmh-ffm.json");
            ChainedOptionsBuilder options = new OptionsBuilder()
                    .include(FfmTables.INCLUDE)
                    .jvmArgsAppend(FORK_FLAGS)
                    .shouldFailOnError(false)
                    .verbosity(VerboseMode.SILENT)
                    .resultFormat(ResultFormatType.JSON)
                    .result(json.toString());
            chosen.apply(options);
            System.out.println("running the segment API and arena lifetimes...");
            new Runner(options.build()).run();
            ffmTables = FfmTables.render(JmhResults.read(json));
        }

        String echoTable = "";
        if (echo) {
            List<EchoComparison.Result> echoResults = EchoComparison.run(List.of(1024, 16384), chosen.echoMeasureMillis,
                    chosen.echoRounds);
            echoTable = echoResults.isEmpty() ? "" : EchoComparison.description() + EchoComparison.table(echoResults);
        }

        String table = results.markdownTable();
        System.out.println();
        System.out.println(table);
        System.out.println();
        System.out.println(ffmTables);
        System.out.println();
        System.out.println(echoTable);
        Path chart = out.resolve("comparison.png");
        ComparisonChart.write(results, chart);
        Files.writeString(out.resolve("report.md"), Report.render(chosen, results, ffmTables, echoTable, notes, chart.getFileName().toString()));
        System.out.println("wrote " + out.resolve("report.md") + " and " + chart);
        if (readme != null && chosen == Profile.FULL) {
            Path readmeChart = readme.toAbsolutePath().getParent().resolve(Report.README_CHART);
            Files.createDirectories(readmeChart.getParent());
            Files.copy(chart, readmeChart, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Report.updateReadme(readme, Report.readmeSection(chosen, results, ffmTables, echoTable));
            System.out.println("updated the comparison in " + readme);
        }
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

        /**
         * One row per workload: each peer's ns/op with JMH's score error (99.9% confidence) and, in
         * brackets, its ratio to Spanheap's.
         */
        String markdownTable() {
            List<String> header = new ArrayList<>();
            header.add("workload");
            header.addAll(peers);
            MarkdownTable table = MarkdownTable.withColumns(header);
            for (String workload : byWorkload.keySet()) {
                List<String> row = new ArrayList<>();
                row.add(workload);
                Optional<Double> base = score(workload, Peers.SPANHEAP);
                for (String peer : peers) {
                    double[] result = byWorkload.get(workload).get(peer);
                    if (result == null) {
                        row.add("-");
                    } else if (base.isEmpty() || peer.equals(Peers.SPANHEAP)) {
                        row.add(ns(result[0]) + " ± " + ns(result[1]));
                    } else {
                        row.add(String.format("%s ± %s (%.2fx)", ns(result[0]), ns(result[1]), result[0] / base.get()));
                    }
                }
                table.row(row);
            }
            return table.render();
        }

        private static String ns(double value) {
            return Double.isNaN(value) ? "?" : value >= 100 ? String.format("%.0f", value) : String.format("%.1f", value);
        }
    }
}
