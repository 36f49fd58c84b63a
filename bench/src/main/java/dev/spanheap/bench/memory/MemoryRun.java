package dev.spanheap.bench.memory;

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
 * starting RSS) and the live bytes per tick into {@code memory.png} and writes {@code memory.md}.
 */
public final class MemoryRun {

    static final List<String> MODES = List.of("spanheap", "spanheap-no-scavenger", "allocate-direct");

    private MemoryRun() {
    }

    /** Arguments: ticks, tick millis, output folder. */
    public static void main(String[] args) throws Exception {
        System.setProperty("java.awt.headless", "true");
        int ticks = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        long tickMillis = args.length > 1 ? Long.parseLong(args[1]) : 50;
        Path out = Path.of(args.length > 2 ? args[2] : "target");
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
                    "-XX:MaxDirectMemorySize=2g", "-cp", classPath, GarbageMaker.class.getName(), mode,
                    Integer.toString(ticks), Long.toString(tickMillis), csv.toString()).inheritIO().start();
            if (process.waitFor() != 0) {
                throw new IllegalStateException(mode + " run failed with exit code " + process.exitValue());
            }
            samples.put(mode, read(csv));
        }
        String table = table(samples, ticks / 5);
        System.out.println(table);
        Files.writeString(out.resolve("memory.md"), "# RSS under the garbage-making workload\n\n"
                + "Each tick allocates a 5-10 MB buffer, writes it, and replaces a random one of 20 pooled buffers "
                + "(Cloudflare, \"Understanding Go Memory\", 2013). RSS is measured above each process's RSS once its "
                + "allocator is set up and before the first buffer; the first fifth of the ticks is warm-up and left out. "
                + "Retained is what the heap "
                + "holds from the OS (heapSys - heapReleased; for allocateDirect, the direct buffer pool).\n\n" + table
                + "\n![memory](memory.png)\n");
        chart(samples, out.resolve("memory.png"));
        System.out.println("wrote " + out.resolve("memory.md") + " and " + out.resolve("memory.png"));
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
        StringBuilder table = new StringBuilder(
                "| run | mean live MiB | mean RSS above start MiB | mean RSS / live | max RSS / live | mean retained / live |\n"
                        + "|---|---:|---:|---:|---:|---:|\n");
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
            table.append(String.format("| %s | %.0f | %.0f | %.2f | %.2f | %.2f |%n", mode, liveSum / counted / (1 << 20),
                    rssSum / counted / (1 << 20), rssSum / liveSum, maxRatio, retainedSum / liveSum));
        });
        return table.toString();
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
