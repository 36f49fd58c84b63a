package dev.spanheap.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.List;

/** report.md: the machine, the profile, the table and how to read it. */
final class Report {

    private Report() {
    }

    static String render(Profile profile, Compare.Results results, List<String> notes, String chartFile) {
        StringBuilder report = new StringBuilder();
        report.append("# Spanheap comparison\n\n");
        report.append("- date: ").append(LocalDate.now()).append('\n');
        report.append("- machine: ").append(cpuModel()).append(", ")
                .append(Runtime.getRuntime().availableProcessors()).append(" CPUs\n");
        report.append("- JVM: ").append(System.getProperty("java.vm.name")).append(' ')
                .append(Runtime.version()).append('\n');
        report.append("- profile: ").append(profile.name().toLowerCase(java.util.Locale.ROOT))
                .append(String.format(" (%d fork(s), %d x %d ms warm-up, %d x %d ms measured)%n",
                        profile.forks, profile.warmupIterations, profile.warmupMillis, profile.iterations,
                        profile.iterationMillis));
        for (String note : notes) {
            report.append("- note: ").append(note).append('\n');
        }
        report.append("\nns per operation (an allocate+free pair, or one replacement); in brackets each peer's time ")
                .append("divided by Spanheap's (`spanheap` column): above 1.00 Spanheap is faster. `spanheap-local` ")
                .append("is Spanheap through its per-thread `LocalHeap` handle.\n\n");
        report.append(results.markdownTable()).append('\n');
        report.append("![comparison](").append(chartFile).append(")\n");
        return report.toString();
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
