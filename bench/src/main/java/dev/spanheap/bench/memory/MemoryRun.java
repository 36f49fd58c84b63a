package dev.spanheap.bench.memory;

import dev.spanheap.bench.MarkdownTable;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * Runs {@link GarbageMaker} for Spanheap with the scavenger, without it, and for
 * {@code ByteBuffer.allocateDirect}, each in its own JVM; then draws RSS (above each process's own
 * starting RSS) and the live bytes per tick into {@code memory.png} and writes {@code memory.md},
 * with the {@link FragmentationRun fragmentation workload's} table after it.
 */
@Command(name = "memory-run", mixinStandardHelpOptions = true,
        description = "Runs the garbage-making workload for each allocator and charts RSS against live bytes.")
public final class MemoryRun implements Callable<Integer> {

    @Option(names = "--ticks", description = "buffers per run (default 200)")
    private int ticks = 200;

    @Option(names = "--tick-millis", description = "pause after each buffer (default 50)")
    private long tickMillis = 50;

    @Option(names = "--fragmentation-steps", description = "churn steps of the fragmentation workload (default 300000)")
    private int fragmentationSteps = 300_000;

    @Option(names = "--out", description = "where memory.md, memory.png and the CSV files go")
    private Path out = Path.of("target");

    static final List<String> MODES = List.of("spanheap", "spanheap-hugepages", "spanheap-no-scavenger", "allocate-direct");

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(new CommandLine(new MemoryRun()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        String java = ProcessHandle.current().info().command().orElse("java");
        String classPath = System.getProperty("java.class.path");
        Map<String, List<long[]>> samples = new LinkedHashMap<>();
        for (String mode : MODES) {
            Path csv = out.resolve("memory-" + mode + ".csv");
            System.out.printf("memory workload: %s, %d ticks of %d ms...%n", mode, ticks, tickMillis);
            // A fixed, pre-touched Java heap puts the JVM's own growth into the starting RSS, so that the
            // RSS above start is the off-heap memory each allocator holds.
            Process process = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xms128m", "-Xmx128m",
                    "-XX:+AlwaysPreTouch",
                    "-XX:MaxDirectMemorySize=2g", "-cp", classPath, GarbageMaker.class.getName(), "--mode=" + mode,
                    "--ticks=" + ticks, "--tick-millis=" + tickMillis, "--csv=" + csv,
                    "--heap-profile=" + out.resolve("memory-" + mode + ".pb.gz")).inheritIO().start();
            if (process.waitFor() != 0) {
                throw new IllegalStateException(mode + " run failed with exit code " + process.exitValue());
            }
            samples.put(mode, read(csv));
        }
        String table = table(samples, ticks / 5);
        System.out.println(table);
        String fragmentation = FragmentationRun.run(out, fragmentationSteps);
        System.out.println(fragmentation);
        Files.writeString(out.resolve("memory.md"), "# RSS under the garbage-making workload\n\n"
                + "Each tick allocates a 5-10 MB buffer, writes it, and replaces a random one of 20 pooled buffers "
                + "(Cloudflare, \"Understanding Go Memory\", 2013). RSS is measured above each process's RSS once its "
                + "allocator is set up and before the first buffer; the first fifth of the ticks is warm-up and left out. "
                + "Retained is what the heap "
                + "holds from the OS (heapSys - heapReleased; for allocateDirect, the direct buffer pool).\n\n" + table
                + "\n![memory](memory.png)\n\nThe Spanheap runs also wrote their heap profiles (pprof, Go's heap profile "
                + "format) before freeing the pool: `go tool pprof -top " + out.resolve("memory-spanheap.pb.gz") + "`.\n\n"
                + fragmentation);
        chart(samples, out.resolve("memory.png"));
        System.out.println("wrote " + out.resolve("memory.md") + " and " + out.resolve("memory.png"));
        return 0;
    }

    /** Rows of (tick, live, rss, heapSys, heapInuse, heapIdle, heapReleased); the first row is the baseline. */
    static List<long[]> read(Path csv) throws IOException {
        List<long[]> rows = new ArrayList<>();
        for (String line : Files.readAllLines(csv).subList(1, Files.readAllLines(csv).size())) {
            String[] fields = line.split(",");
            long[] row = new long[fields.length];
            for (int i = 0; i < fields.length; i++) {
                row[i] = Long.parseLong(fields[i]);
            }
            rows.add(row);
        }
        return rows;
    }

    static String table(Map<String, List<long[]>> samples, int warmup) {
        MarkdownTable table = MarkdownTable.withColumns("run", "mean live MiB", "mean RSS above start MiB",
                "mean RSS / live", "max RSS / live", "mean retained / live");
        samples.forEach((mode, rows) -> {
            long baseline = rows.get(0)[2];
            double liveSum = 0;
            double rssSum = 0;
            double retainedSum = 0;
            double maxRatio = 0;
            int counted = 0;
            for (long[] row : rows.subList(1 + warmup, rows.size())) {
                double rss = row[2] - baseline;
                liveSum += row[1];
                rssSum += rss;
                retainedSum += row[3] - row[6];
                maxRatio = Math.max(maxRatio, rss / row[1]);
                counted++;
            }
            table.row(mode, String.format("%.0f", liveSum / counted / (1 << 20)),
                    String.format("%.0f", rssSum / counted / (1 << 20)), String.format("%.2f", rssSum / liveSum),
                    String.format("%.2f", maxRatio), String.format("%.2f", retainedSum / liveSum));
        });
        return table.render();
    }

    static void chart(Map<String, List<long[]>> samples, Path png) throws IOException {
        XYChart chart = new XYChartBuilder().width(1400).height(700)
                .title("RSS above start under the garbage-making workload").xAxisTitle("tick").yAxisTitle("MiB").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        chart.getStyler().setMarkerSize(0);
        boolean liveDrawn = false;
        for (Map.Entry<String, List<long[]>> run : samples.entrySet()) {
            List<long[]> rows = run.getValue().subList(1, run.getValue().size());
            long baseline = run.getValue().get(0)[2];
            double[] ticks = rows.stream().mapToDouble(row -> row[0]).toArray();
            chart.addSeries(run.getKey() + " RSS", ticks, rows.stream().mapToDouble(row -> (row[2] - baseline) / 1048576.0).toArray());
            if (!liveDrawn) {
                chart.addSeries("live bytes", ticks, rows.stream().mapToDouble(row -> row[1] / 1048576.0).toArray());
                liveDrawn = true;
            }
        }
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
