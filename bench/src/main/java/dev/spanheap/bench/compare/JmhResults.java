package dev.spanheap.bench.compare;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JMH's own JSON results ({@code -rf json}), the comparison report's source: per benchmark run,
 * the peer parameter, the score and JMH's score error. A run that failed has no entry.
 */
final class JmhResults {

    /**
     * One benchmark result: the benchmark's full name, its parameters, ns/op and its error (half the
     * 99.9% confidence interval).
     */
    record Result(String benchmark, Map<String, String> params, double score, double error) {

        String peer() {
            return params.getOrDefault("peer", "");
        }

        /** The benchmark method's name: the last part of the full name. */
        String method() {
            return benchmark.substring(benchmark.lastIndexOf('.') + 1);
        }
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
            Map<String, String> params = new LinkedHashMap<>();
            run.path("params").properties().forEach(param -> params.put(param.getKey(), param.getValue().asText()));
            results.add(new Result(run.path("benchmark").asText(), params,
                    metric.path("score").asDouble(Double.NaN), metric.path("scoreError").asDouble(Double.NaN)));
        }
        return results;
    }
}
