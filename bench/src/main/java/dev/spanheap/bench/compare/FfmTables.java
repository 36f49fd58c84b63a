package dev.spanheap.bench.compare;

import dev.spanheap.bench.MarkdownTable;
import dev.spanheap.bench.jmh.ArenaLifetimeBenchmark;
import dev.spanheap.bench.jmh.SegmentApiBenchmark;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The comparison's FFM tables: Spanheap's segment API against its raw addresses (and the cost of
 * checked mode), and an arena's lifetime for Spanheap's arenas against the JDK's, the floor and
 * the JDK scope alone, and Spanheap's arena alone. Both from one JMH run of {@link SegmentApiBenchmark} and
 * {@link ArenaLifetimeBenchmark}.
 */
final class FfmTables {

    /** The JMH include pattern of both benchmarks. */
    static final String INCLUDE = pattern(SegmentApiBenchmark.class) + "|" + pattern(ArenaLifetimeBenchmark.class);

    private static final Map<String, String> API_COLUMNS = columns(
            "address", "malloc/free(long)",
            "segmentLocal", "allocate/free(segment), segment in the method",
            "segmentHeld", "allocate/free(segment), segment stored in a field",
            "checkedAddress", "checked mode, malloc/free(long)",
            "checkedSegment", "checked mode, allocate/free(segment)");

    private static final Map<String, String> ARENA_COLUMNS = columns(
            "spanheapConfined", "Spanheap newConfinedArena()",
            "jdkConfined", "Arena.ofConfined()",
            "slicingFloor", "floor: slicing a preallocated buffer",
            "jdkScopeOnly", "JDK scope alone (no allocation)",
            "spanheapConfinedEmpty", "Spanheap newConfinedArena() alone (no allocation)",
            "spanheapShared", "Spanheap newSharedArena()",
            "jdkShared", "Arena.ofShared()");

    private FfmTables() {
    }

    static String render(List<JmhResults.Result> results) {
        if (results.isEmpty()) {
            return "";
        }
        return "Segment API against raw addresses, ns per allocate + write + free ± JMH's error; in brackets the "
                + "difference to `malloc/free(long)`:\n\n" + apiTable(results)
                + "\nAn arena's lifetime (open, allocate four zeroed segments of 16-256 B, write them, close), ns ± error; "
                + "in brackets each figure divided by Spanheap's confined arena:\n\n" + arenaTable(results);
    }

    private static String apiTable(List<JmhResults.Result> results) {
        List<String> header = new ArrayList<>(List.of("size"));
        header.addAll(API_COLUMNS.values());
        MarkdownTable table = MarkdownTable.withColumns(header);
        Map<String, Map<String, JmhResults.Result>> bySize = new LinkedHashMap<>();
        for (JmhResults.Result result : results) {
            if (result.benchmark().startsWith(SegmentApiBenchmark.class.getName())) {
                bySize.computeIfAbsent(result.params().get("size"), s -> new LinkedHashMap<>()).put(result.method(), result);
            }
        }
        bySize.forEach((size, byMethod) -> {
            List<String> row = new ArrayList<>(List.of(bytes(Long.parseLong(size))));
            JmhResults.Result base = byMethod.get("address");
            for (String method : API_COLUMNS.keySet()) {
                JmhResults.Result result = byMethod.get(method);
                if (result == null) {
                    row.add("-");
                } else if (base == null || method.equals("address")) {
                    row.add(figure(result));
                } else {
                    row.add(String.format("%s (%+.1f)", figure(result), result.score() - base.score()));
                }
            }
            table.row(row);
        });
        return table.render();
    }

    private static String arenaTable(List<JmhResults.Result> results) {
        MarkdownTable table = MarkdownTable.withColumns(new ArrayList<>(ARENA_COLUMNS.values()));
        Map<String, JmhResults.Result> byMethod = new LinkedHashMap<>();
        for (JmhResults.Result result : results) {
            if (result.benchmark().startsWith(ArenaLifetimeBenchmark.class.getName())) {
                byMethod.put(result.method(), result);
            }
        }
        JmhResults.Result base = byMethod.get("spanheapConfined");
        List<String> row = new ArrayList<>();
        for (String method : ARENA_COLUMNS.keySet()) {
            JmhResults.Result result = byMethod.get(method);
            if (result == null) {
                row.add("-");
            } else if (base == null || method.equals("spanheapConfined")) {
                row.add(figure(result));
            } else {
                row.add(String.format("%s (%.2fx)", figure(result), result.score() / base.score()));
            }
        }
        table.row(row);
        return table.render();
    }

    private static String figure(JmhResults.Result result) {
        return ns(result.score()) + " ± " + ns(result.error());
    }

    private static String ns(double value) {
        return Double.isNaN(value) ? "?" : value >= 100 ? String.format("%.0f", value) : String.format("%.1f", value);
    }

    private static String bytes(long size) {
        return size >= 1024 ? (size >> 10) + " KiB" : size + " B";
    }

    private static String pattern(Class<?> benchmark) {
        return benchmark.getName().replace(".", "\\.") + "\\..*";
    }

    private static Map<String, String> columns(String... methodsAndTitles) {
        Map<String, String> columns = new LinkedHashMap<>();
        for (int i = 0; i < methodsAndTitles.length; i += 2) {
            columns.put(methodsAndTitles[i], methodsAndTitles[i + 1]);
        }
        return columns;
    }
}
