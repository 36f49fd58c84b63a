package dev.spanheap.bench.compare;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;

/** report.md: the machine, the profile, the table and how to read it. */
final class Report {

    private Report() {
    }

    static final String README_START = "<!-- comparison:start -->";
    static final String README_END = "<!-- comparison:end -->";

    static String render(Profile profile, Compare.Results results, String ffmTables, String echoTable, List<String> notes,
                         String chartFile) {
        StringBuilder report = new StringBuilder();
        report.append("# Spanheap comparison\n\n");
        report.append(runDescription(profile));
        for (String note : notes) {
            report.append("- note: ").append(note).append('\n');
        }
        report.append("\nns per operation (an allocate+free pair, or one replacement) ± JMH's score error; in brackets each peer's time ")
                .append("divided by Spanheap's (`spanheap` column): above 1.00 Spanheap is faster. `spanheap-global` ")
                .append("is the process-wide heap, `Spanheap.global()`, which code reaches as a constant; `spanheap-local` ")
                .append("is Spanheap through its per-thread `LocalHeap` handle; in the Netty pattern, Spanheap's column is its ")
                .append("Netty adapter, `SpanheapByteBufAllocator`.\n\n");
        report.append(results.markdownTable()).append('\n');
        report.append("![comparison](").append(chartFile).append(")\n");
        if (!ffmTables.isEmpty()) {
            report.append("\n## FFM: segments and arenas\n\n").append(ffmTables);
        }
        if (!echoTable.isEmpty()) {
            report.append("\n## Netty echo server\n\n").append(echoTable);
        }
        return report.toString();
    }

    /** Date, machine, JVM and profile, as a Markdown list. */
    private static String runDescription(Profile profile) {
        return "- date: " + LocalDate.now() + "\n"
                + "- machine: " + cpuModel() + ", " + Runtime.getRuntime().availableProcessors() + " CPUs\n"
                + "- JVM: " + System.getProperty("java.vm.name") + " " + Runtime.version() + "\n"
                + "- profile: " + profile.name().toLowerCase(java.util.Locale.ROOT)
                + String.format(" (%d fork(s), %d x %d ms warm-up, %d x %d ms measured)%n", profile.forks,
                        profile.warmupIterations, profile.warmupMillis, profile.iterations, profile.iterationMillis);
    }

    /** Where a full run puts its chart for the README, relative to the README. */
    static final String README_CHART = "docs/comparison.png";

    /** The README's comparison section: what ran, the table and the chart, written by a full run. */
    static String readmeSection(Profile profile, Compare.Results results, String ffmTables, String echoTable) {
        return "Latest full profile (`./compare full`), written by the run itself:\n\n" + runDescription(profile) + "\n"
                + results.markdownTable() + "\n![comparison](" + README_CHART + ")\n"
                + (ffmTables.isEmpty() ? "" : "\n" + ffmTables)
                + (echoTable.isEmpty() ? "" : "\n" + echoTable);
    }

    /** Replaces what stands between the comparison markers of {@code readme} with {@code section}. */
    static void updateReadme(Path readme, String section) throws IOException {
        String text = Files.readString(readme);
        int start = text.indexOf(README_START);
        int end = text.indexOf(README_END);
        if (start < 0 || end < start) {
            throw new IllegalStateException(readme + " has no " + README_START + " ... " + README_END + " section");
        }
        Files.writeString(readme, text.substring(0, start + README_START.length()) + "\n" + section
                + text.substring(end));
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .filter(line -> line.startsWith("model name"))
                    .map(line -> line.substring(line.indexOf(':') + 1).trim())
                    .findFirst().orElse("unknown CPU");
        } catch (IOException e) {
            return "unknown CPU";
        }
    }
}
