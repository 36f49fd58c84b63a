package dev.spanheap.bench.soak;

import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import dev.spanheap.bench.MarkdownTable;
import dev.spanheap.bench.ProcessRss;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The soak: two {@link SoakWorker}s run a mixed workload with content checks on one heap for the
 * given minutes while this thread samples RSS and the statistics every second; then
 * {@code soak.md} and {@code soak.png}. Bar: no corruption, and RSS flat after the warm-up (the
 * first fifth of the run): the least-squares slope of RSS under 1% of its mean per minute.
 */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = "Runs a two-thread mixed workload with content checks and samples RSS every second.")
public final class Soak implements Callable<Integer> {

    @Option(names = "--minutes", description = "how long to run (default 10)")
    private double minutes = 10;

    @Option(names = "--out", description = "where soak.md and soak.png go")
    private Path out = Path.of("target");

    /** One sample: seconds since start, operations so far, RSS, and the heap's figures. */
    record Sample(double seconds, long operations, long rss, long heapAlloc, long heapInuse, long retained) {
    }

    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        System.exit(new CommandLine(new Soak()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        Files.createDirectories(out);
        LongAdder operations = new LongAdder();
        AtomicLong corruptions = new AtomicLong();
        List<Sample> samples = new ArrayList<>();
        long start = System.nanoTime();
        long deadline = start + (long) (minutes * 60e9);
        try (Spanheap heap = Spanheap.create()) {
            SoakWorker first = new SoakWorker(heap, 1, operations, corruptions, deadline);
            SoakWorker second = new SoakWorker(heap, 2, operations, corruptions, deadline);
            first.partner(second);
            second.partner(first);
            Thread[] threads = {Thread.ofPlatform().name("soak-1").start(first),
                Thread.ofPlatform().name("soak-2").start(second)};
            while (System.nanoTime() < deadline) {
                Thread.sleep(1000);
                MemStats stats = heap.memStats();
                samples.add(new Sample((System.nanoTime() - start) / 1e9, operations.sum(), ProcessRss.bytes(),
                        stats.heapAlloc(), stats.heapInuse(), stats.heapSys() - stats.heapReleased()));
                Sample last = samples.getLast();
                if (samples.size() % 10 == 0) {
                    System.out.printf(Locale.ROOT, "%4.0f s: %,d operations, RSS %.0f MiB, live %.0f MiB%n",
                            last.seconds(), last.operations(), mib(last.rss()), mib(last.heapAlloc()));
                }
            }
            for (Thread thread : threads) {
                thread.join();
            }
            first.drainInbox();
            second.drainInbox();
            heap.verify();
            MemStats end = heap.memStats();
            if (end.heapObjects() != 0) {
                throw new IllegalStateException("blocks left in use after the soak: " + end);
            }
        }
        String report = report(samples, operations.sum(), corruptions.get());
        Files.writeString(out.resolve("soak.md"), report);
        chart(samples, out.resolve("soak.png"));
        System.out.println(report);
        System.out.println("wrote " + out.resolve("soak.md") + " and " + out.resolve("soak.png"));
        return passes(corruptions.get(), samples) ? 0 : 1;
    }

    /**
     * The shortest run whose RSS slope is judged: over a run of a minute or two, the last steps of
     * the warm-up swing the slope by several percent per minute (a 1-minute run measured +7.6%,
     * the 8-minute run after it +0.08%), so a shorter run is judged on corruptions alone.
     */
    static final double MIN_MINUTES_FOR_SLOPE = 5;

    /** No corruption and, on a run long enough to tell, RSS flat after the warm-up. */
    static boolean passes(long corruptions, List<Sample> samples) {
        return corruptions == 0
                && (!slopeJudged(samples) || Math.abs(slopePercentPerMinute(afterWarmUp(samples))) < 1.0);
    }

    private static boolean slopeJudged(List<Sample> samples) {
        return !samples.isEmpty() && samples.getLast().seconds() >= MIN_MINUTES_FOR_SLOPE * 60;
    }

    static List<Sample> afterWarmUp(List<Sample> samples) {
        return samples.subList(samples.size() / 5, samples.size());
    }

    /** Least-squares slope of RSS over time, in percent of the mean RSS per minute. */
    static double slopePercentPerMinute(List<Sample> samples) {
        int n = samples.size();
        double meanX = samples.stream().mapToDouble(Sample::seconds).average().orElse(0);
        double meanY = samples.stream().mapToDouble(Sample::rss).average().orElse(0);
        double covariance = 0;
        double variance = 0;
        for (Sample sample : samples) {
            covariance += (sample.seconds() - meanX) * (sample.rss() - meanY);
            variance += (sample.seconds() - meanX) * (sample.seconds() - meanX);
        }
        return n < 2 || variance == 0 ? 0 : covariance / variance * 60 / meanY * 100;
    }

    private static String report(List<Sample> samples, long operations, long corruptions) {
        List<Sample> steady = afterWarmUp(samples);
        double seconds = samples.isEmpty() ? 0 : samples.getLast().seconds();
        double slope = slopePercentPerMinute(steady);
        String unjudged = slopeJudged(samples) ? "" : "; not judged under " + (int) MIN_MINUTES_FOR_SLOPE + " minutes";
        MarkdownTable summary = MarkdownTable.withColumns("figure", "value")
                .row("duration", String.format(Locale.ROOT, "%.1f min", seconds / 60))
                .row("operations (allocate + check + free)", String.format(Locale.ROOT, "%,d", operations))
                .row("operations per second", String.format(Locale.ROOT, "%,.0f", operations / Math.max(seconds, 1e-9)))
                .row("corruptions", corruptions)
                .row("mean RSS after warm-up", String.format(Locale.ROOT, "%.1f MiB",
                        mib(steady.stream().mapToLong(Sample::rss).average().orElse(0))))
                .row("RSS min / max after warm-up", String.format(Locale.ROOT, "%.1f / %.1f MiB",
                        mib(steady.stream().mapToLong(Sample::rss).min().orElse(0)),
                        mib(steady.stream().mapToLong(Sample::rss).max().orElse(0))))
                .row("mean live (heapAlloc) after warm-up", String.format(Locale.ROOT, "%.1f MiB",
                        mib(steady.stream().mapToLong(Sample::heapAlloc).average().orElse(0))))
                .row("RSS slope after warm-up", String.format(Locale.ROOT, "%+.3f %% per minute (bar: under 1%%%s)",
                        slope, unjudged))
                .row("verdict", passes(corruptions, samples) ? "pass" : "FAIL");
        MarkdownTable minutes = MarkdownTable.withColumns("minute", "operations", "RSS MiB", "live MiB", "in use MiB",
                "retained MiB");
        for (Sample sample : samples) {
            if (Math.round(sample.seconds()) % 60 == 0 || sample == samples.getLast()) {
                minutes.row(String.format(Locale.ROOT, "%.1f", sample.seconds() / 60),
                        String.format(Locale.ROOT, "%,d", sample.operations()),
                        String.format(Locale.ROOT, "%.1f", mib(sample.rss())),
                        String.format(Locale.ROOT, "%.1f", mib(sample.heapAlloc())),
                        String.format(Locale.ROOT, "%.1f", mib(sample.heapInuse())),
                        String.format(Locale.ROOT, "%.1f", mib(sample.retained())));
            }
        }
        return "# Soak\n\n"
                + String.format(Locale.ROOT, "Two threads, %d live blocks each, sizes log-uniform from 8 B to 1 MiB, one "
                        + "block in eight freed by the other thread; every block's stamp checked before its free. "
                        + "Sampled every second; the first fifth is warm-up.%n%n", SoakWorker.SLOTS)
                + summary.render() + "\n![soak](soak.png)\n\n" + minutes.render();
    }

    private static void chart(List<Sample> samples, Path png) throws java.io.IOException {
        XYChart chart = new XYChartBuilder().width(1200).height(600).title("Soak: memory over time")
                .xAxisTitle("minutes").yAxisTitle("MiB").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        chart.getStyler().setMarkerSize(0);
        double[] x = samples.stream().mapToDouble(s -> s.seconds() / 60).toArray();
        chart.addSeries("process RSS", x, samples.stream().mapToDouble(s -> mib(s.rss())).toArray());
        chart.addSeries("retained (heapSys - heapReleased)", x, samples.stream().mapToDouble(s -> mib(s.retained())).toArray());
        chart.addSeries("in use (heapInuse)", x, samples.stream().mapToDouble(s -> mib(s.heapInuse())).toArray());
        chart.addSeries("live (heapAlloc)", x, samples.stream().mapToDouble(s -> mib(s.heapAlloc())).toArray());
        BitmapEncoder.saveBitmap(chart, png.toString(), BitmapEncoder.BitmapFormat.PNG);
    }

    private static double mib(double bytes) {
        return bytes / (1 << 20);
    }
}
