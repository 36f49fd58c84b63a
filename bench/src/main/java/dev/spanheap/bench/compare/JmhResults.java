package dev.spanheap.bench.compare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * JMH's own JSON results ({@code -rf json}), the comparison report's source: per benchmark run,
 * the peer parameter, the score and JMH's score error. A run that failed has no entry.
 */
final class JmhResults {

    /** One benchmark result: ns/op and its error (half the 99.9% confidence interval). */
    record Result(String benchmark, String peer, double score, double error) {
    }

    private JmhResults() {
    }

    static List<Result> read(Path json) throws IOException {
        List<Result> results = new ArrayList<>();
        if (!json.toFile().isFile() || json.toFile().length() == 0) {
            return results;
        }
        for (JsonNode run : new ObjectMapper().readTree(json.toFile())) {
            JsonNode metric = run.path("primaryMetric");
            results.add(new Result(run.path("benchmark").asText(), run.path("params").path("peer").asText(),
                    metric.path("score").asDouble(Double.NaN), metric.path("scoreError").asDouble(Double.NaN)));
        }
        return results;
    }
}
