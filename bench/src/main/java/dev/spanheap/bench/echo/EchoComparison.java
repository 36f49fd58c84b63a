package dev.spanheap.bench.echo;

import dev.spanheap.bench.MarkdownTable;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The echo server comparison: one {@link EchoRun} process per allocator and message size, run one
 * after another, and a table of their results (throughput, and RSS during and 5 s after a burst).
 */
public final class EchoComparison {

    /** JVM flags of each run: a fixed, pre-touched Java heap, so RSS changes are the allocator's. */
    private static final List<String> FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow", "-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch",
            "-XX:MaxDirectMemorySize=2g", "-Dio.netty.leakDetection.level=disabled");

    /** One run's figures, as {@link EchoRun} prints them. */
    public record Result(String allocator, int size, double messagesPerSecond, long rssStart, long rssBurst, long rssAfter,
                  long heldBurst, long heldAfter) {

        static Result parse(String line) {
            String[] f = line.substring(EchoRun.RESULT_PREFIX.length()).trim().split(" ");
            return new Result(f[0], Integer.parseInt(f[1]), Double.parseDouble(f[2]), Long.parseLong(f[3]),
                    Long.parseLong(f[4]), Long.parseLong(f[5]), Long.parseLong(f[6]), Long.parseLong(f[7]));
        }
    }

    private EchoComparison() {
    }

    /** The echo comparison alone, three rounds: {@code [measureMillis [size...]]}, by default 5 s at 1 KiB and 16 KiB. */
    public static void main(String[] args) throws Exception {
        long measureMillis = args.length > 0 ? Long.parseLong(args[0]) : 5000;
        List<Integer> sizes = args.length > 1
                ? java.util.Arrays.stream(args).skip(1).map(Integer::valueOf).toList()
                : List.of(1024, 16384);
        System.out.println(description() + table(run(sizes, measureMillis, 3)));
    }

    /**
     * Runs every allocator at every size, {@code rounds} times in rotation (so that a slow spell of
     * the machine hits every allocator alike), and gives each allocator and size the median of its
     * rounds, field by field; {@code measureMillis} is each run's measured echo time.
     */
    public static List<Result> run(List<Integer> sizes, long measureMillis, int rounds) throws IOException, InterruptedException {
        List<Result> all = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            all.addAll(runOnce(sizes, measureMillis));
        }
        List<Result> medians = new ArrayList<>();
        for (int size : sizes) {
            for (String allocator : EchoAllocators.NAMES) {
                List<Result> runs = all.stream().filter(r -> r.size() == size && r.allocator().equals(allocator)).toList();
                if (!runs.isEmpty()) {
                    medians.add(new Result(allocator, size, median(runs, r -> r.messagesPerSecond()),
                            (long) median(runs, r -> r.rssStart()), (long) median(runs, r -> r.rssBurst()),
                            (long) median(runs, r -> r.rssAfter()), (long) median(runs, r -> r.heldBurst()),
                            (long) median(runs, r -> r.heldAfter())));
                }
            }
        }
        return medians;
    }

    private static double median(List<Result> runs, java.util.function.ToDoubleFunction<Result> field) {
        double[] values = runs.stream().mapToDouble(field).sorted().toArray();
        return values[values.length / 2];
    }

    private static List<Result> runOnce(List<Integer> sizes, long measureMillis) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        String classPath = System.getProperty("java.class.path");
        List<Result> results = new ArrayList<>();
        for (int size : sizes) {
            for (String allocator : EchoAllocators.NAMES) {
                System.out.printf("echo server: %s, %d-byte messages...%n", allocator, size);
                List<String> command = new ArrayList<>();
                command.add(java);
                command.addAll(FLAGS);
                command.addAll(List.of("-cp", classPath, EchoRun.class.getName(), "--allocator=" + allocator,
                        "--size=" + size, "--measure-millis=" + measureMillis));
                Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
                Result result = null;
                try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = out.readLine()) != null; ) {
                        if (line.startsWith(EchoRun.RESULT_PREFIX)) {
                            result = Result.parse(line);
                        } else {
                            System.out.println("  " + line);
                        }
                    }
                }
                if (process.waitFor() != 0 || result == null) {
                    System.out.printf("note: the %s echo run at %d bytes failed (exit %d)%n", allocator, size, process.exitValue());
                    continue;
                }
                results.add(result);
            }
        }
        return results;
    }

    /** The table: per size and allocator, throughput (ratio to Netty pooled) and memory. */
    public static String table(List<Result> results) {
        MarkdownTable table = MarkdownTable.withColumns("message", "allocator", "messages/s", "vs netty-pooled",
                "RSS in burst, MiB", "RSS 5 s after, MiB", "vs netty-pooled", "allocator holds in burst / after, MiB");
        for (Result result : results) {
            Result pooled = results.stream().filter(r -> r.size() == result.size() && r.allocator().equals("netty-pooled"))
                    .findFirst().orElse(null);
            long after = result.rssAfter() - result.rssStart();
            table.row(result.size() >= 1024 ? (result.size() >> 10) + " KiB" : result.size() + " B",
                    result.allocator(), String.format("%.0f", result.messagesPerSecond()),
                    pooled == null ? "-" : String.format("%.2fx", result.messagesPerSecond() / pooled.messagesPerSecond()),
                    mib(result.rssBurst() - result.rssStart()), mib(after),
                    pooled == null ? "-" : String.format("%.2fx", (double) Math.max(after, 1)
                            / Math.max(pooled.rssAfter() - pooled.rssStart(), 1)),
                    mib(result.heldBurst()) + " / " + mib(result.heldAfter()));
        }
        return table.render();
    }

    /** A description of the runs for the report. */
    public static String description() {
        return "A Netty echo server and client over loopback (NIO transport, 2 event-loop threads, 32 messages in "
                + "flight; the median of the rounds run in rotation), both allocating from the allocator under test, each allocator in a JVM of its own "
                + "(256 MiB pre-touched Java heap). Then a burst: 64 MiB of live buffers of the message size, "
                + "written and released; RSS is above the process's RSS before the echo, read with the burst live "
                + "and 5 s after its release. Smaller RSS ratios are better.\n\n";
    }

    private static String mib(long bytes) {
        return String.format("%.1f", bytes / 1048576.0);
    }
}
