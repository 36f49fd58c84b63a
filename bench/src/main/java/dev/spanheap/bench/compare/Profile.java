package dev.spanheap.bench.compare;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/** How long and how often each benchmark runs. */
enum Profile {
    /** The README's main job: every workload and peer in about four minutes on two cores. */
    QUICK(1, 1, 400, 2, 400, 1, 2000, 1),
    /** For published figures: longer warm-up and measurement, two forks, larson on two threads. */
    FULL(2, 2, 1000, 4, 1000, 2, 5000, 3);

    final int forks;
    final int warmupIterations;
    final int warmupMillis;
    final int iterations;
    final int iterationMillis;
    final int threadsWhereApplicable;
    /** How long each echo server run is measured. */
    final long echoMeasureMillis;
    /** How many times the echo runs go round the allocators; the report takes the median. */
    final int echoRounds;

    Profile(int forks, int warmupIterations, int warmupMillis, int iterations, int iterationMillis,
            int threadsWhereApplicable, long echoMeasureMillis, int echoRounds) {
        this.forks = forks;
        this.warmupIterations = warmupIterations;
        this.warmupMillis = warmupMillis;
        this.iterations = iterations;
        this.iterationMillis = iterationMillis;
        this.threadsWhereApplicable = threadsWhereApplicable;
        this.echoMeasureMillis = echoMeasureMillis;
        this.echoRounds = echoRounds;
    }

    ChainedOptionsBuilder apply(ChainedOptionsBuilder options) {
        return options.forks(forks)
                .warmupIterations(warmupIterations)
                .warmupTime(new TimeValue(warmupMillis, TimeUnit.MILLISECONDS))
                .measurementIterations(iterations)
                .measurementTime(new TimeValue(iterationMillis, TimeUnit.MILLISECONDS));
    }
}
