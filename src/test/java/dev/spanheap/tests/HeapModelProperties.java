package dev.spanheap.tests;

import dev.spanheap.proptest.Property;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Random workloads of the whole public heap API against {@link HeapModel}, in both modes, on one
 * thread and on two (platform or virtual), with bad input and close among the steps. Any broken
 * invariant fails with the seed and the shrunk sequence of steps.
 */
class HeapModelProperties {

    private static final long SMALL = 48 << 10;
    private static final long LARGE = 3L << 20;

    @ParameterizedTest(name = "checked = {0}")
    @ValueSource(booleans = {false, true})
    void smallBlocksOnOneThread(boolean checked) {
        Property.forAll(HeapOps.sequences(1, SMALL, false, 250)).tries(240)
                .check(ops -> run(checked, 1, ops));
    }

    @ParameterizedTest(name = "checked = {0}")
    @ValueSource(booleans = {false, true})
    void blocksOfEverySizeOnOneThread(boolean checked) {
        Property.forAll(HeapOps.sequences(1, LARGE, false, 120)).tries(120)
                .check(ops -> run(checked, 1, ops));
    }

    @ParameterizedTest(name = "checked = {0}")
    @ValueSource(booleans = {false, true})
    void blocksOfEverySizeOnTwoThreads(boolean checked) {
        Property.forAll(HeapOps.sequences(2, LARGE, false, 150)).tries(120)
                .check(ops -> run(checked, 2, ops));
    }

    @ParameterizedTest(name = "checked = {0}")
    @ValueSource(booleans = {false, true})
    void closeAmongTheSteps(boolean checked) {
        Property.forAll(HeapOps.sequences(2, SMALL, true, 80)).tries(120)
                .check(ops -> run(checked, 2, ops));
    }

    /** Every block sampled (profileRate 1): spans of their own for all sizes, and a profile that must add up. */
    @ParameterizedTest(name = "checked = {0}")
    @ValueSource(booleans = {false, true})
    void everyBlockSampledOnTwoThreads(boolean checked) {
        Property.forAll(HeapOps.sequences(2, LARGE, false, 100)).tries(60)
                .check(ops -> runOnTwoThreads(checked, 1, false, ops));
    }

    /**
     * The same on two virtual threads, with caches of their own (the platform threads' paths) and
     * without (their blocks go through the stripes' caches, CarrierStripes).
     */
    @ParameterizedTest(name = "checked = {0}, virtual threads' caches = {1}")
    @CsvSource({"false, 16", "true, 16", "false, 0", "true, 0"})
    void blocksOfEverySizeOnTwoVirtualThreads(boolean checked, int virtualThreadCaches) {
        Property.forAll(HeapOps.sequences(2, LARGE, false, 150)).tries(120)
                .check(ops -> runOnTwoThreads(checked, HeapModel.DEFAULT_PROFILE_RATE, true, virtualThreadCaches, ops));
    }

    /**
     * Some blocks sampled (one per 4 KiB allocated on average), on two platform or virtual threads,
     * in both modes: samples among unsampled blocks of every size, the threads' countdowns
     * restarting every few allocations, and statistics that must stay exact through them.
     */
    @ParameterizedTest(name = "checked = {0}, virtual threads = {1}")
    @CsvSource({"false, false", "false, true", "true, false", "true, true"})
    void someBlocksSampledOnTwoThreads(boolean checked, boolean virtualThreads) {
        Property.forAll(HeapOps.sequences(2, LARGE, false, 150)).tries(40)
                .check(ops -> runOnTwoThreads(checked, 4096, virtualThreads, ops));
    }

    /** Every block sampled on two virtual threads without caches: samples taken through the stripes' countdowns. */
    @ParameterizedTest(name = "checked = {0}")
    @ValueSource(booleans = {false, true})
    void everyBlockSampledOnTwoVirtualThreads(boolean checked) {
        Property.forAll(HeapOps.sequences(2, LARGE, false, 100)).tries(60)
                .check(ops -> runOnTwoThreads(checked, 1, true, 0, ops));
    }

    private static void run(boolean checked, int threads, List<HeapOp> ops) throws Exception {
        try (HeapModel model = new HeapModel(checked, threads)) {
            model.run(ops);
        }
    }

    private static void runOnTwoThreads(boolean checked, long profileRate, boolean virtualThreads, List<HeapOp> ops)
            throws Exception {
        runOnTwoThreads(checked, profileRate, virtualThreads, 16, ops);
    }

    private static void runOnTwoThreads(boolean checked, long profileRate, boolean virtualThreads,
            int virtualThreadCaches, List<HeapOp> ops) throws Exception {
        try (HeapModel model = new HeapModel(checked, 2, HeapModel.Freeing.HONEST, 0, profileRate, virtualThreads,
                virtualThreadCaches)) {
            model.run(ops);
        }
    }

    @AfterAll
    static void report() {
        System.out.printf("HeapModelProperties: %d heap steps checked against the model%n", HeapModel.STEPS.get());
    }
}
