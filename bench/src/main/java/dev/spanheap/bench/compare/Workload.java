package dev.spanheap.bench.compare;

import dev.spanheap.bench.jmh.BatchBenchmark;
import dev.spanheap.bench.jmh.CrossThreadBenchmark;
import dev.spanheap.bench.jmh.LargePairsBenchmark;
import dev.spanheap.bench.jmh.LarsonBenchmark;
import dev.spanheap.bench.jmh.NettyPatternBenchmark;
import dev.spanheap.bench.jmh.PairBenchmark;
import dev.spanheap.bench.jmh.VirtualThreadPairBenchmark;
import dev.spanheap.bench.peers.Peers;
import java.util.List;
import java.util.Map;

/**
 * One row of the comparison: a JMH benchmark method with fixed parameters (besides the peer), and
 * how the report names it. {@code stands} names peers measured in another's column: the Netty
 * pattern measures Spanheap through its Netty adapter, so that allocator is compared with allocator.
 */
record Workload(String label, Class<?> benchmark, Map<String, String> params, boolean multiThreaded,
                Map<String, String> stands) {

    Workload(String label, Class<?> benchmark, Map<String, String> params, boolean multiThreaded) {
        this(label, benchmark, params, multiThreaded, Map.of());
    }

    /** The peer that runs in {@code column}'s place. */
    String peerFor(String column) {
        return stands.getOrDefault(column, column);
    }

    /** The column a run of {@code peer} fills. */
    String columnOf(String peer) {
        return stands.entrySet().stream().filter(e -> e.getValue().equals(peer)).map(Map.Entry::getKey)
                .findFirst().orElse(peer);
    }

    /** The label as a file-name part: "pair 16 B" is "pair-16-b". */
    String slug() {
        return label.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
    }

    /** The JMH include pattern for this workload's benchmark class. */
    String include() {
        return benchmark.getName().replace(".", "\\.") + "\\..*";
    }

    static List<Workload> all() {
        return List.of(
                pair("16 B", 16),
                pair("256 B", 256),
                pair("4 KiB", 4096),
                pair("64 KiB", 65536),
                pair("256 KiB", 256 << 10),
                pair("1 MiB", 1 << 20),
                new Workload("large pairs 64 KiB-1 MiB, 1 thread", LargePairsBenchmark.class, Map.of(), false),
                new Workload("large pairs 64 KiB-1 MiB, 2 threads sharing", LargePairsBenchmark.class, Map.of(), true),
                new Workload("batch 1024 x 16 B-4 KiB", BatchBenchmark.class, Map.of(), false),
                new Workload("cross-thread 256 B", CrossThreadBenchmark.class, Map.of("size", "256"), false),
                new Workload("netty pattern 0-64 KiB", NettyPatternBenchmark.class, Map.of(), false,
                        Map.of(Peers.SPANHEAP, Peers.SPANHEAP_NETTY)),
                new Workload("netty pattern 0-4 KiB", NettyPatternBenchmark.class, Map.of("maxSize", "4096"), false,
                        Map.of(Peers.SPANHEAP, Peers.SPANHEAP_NETTY)),
                new Workload("larson 8-1000 B", LarsonBenchmark.class, Map.of(), true),
                new Workload("pair 16 B on virtual threads sharing", VirtualThreadPairBenchmark.class, Map.of(), true));
    }

    private static Workload pair(String size, long bytes) {
        return new Workload("pair " + size, PairBenchmark.class, Map.of("size", Long.toString(bytes)), false);
    }
}
