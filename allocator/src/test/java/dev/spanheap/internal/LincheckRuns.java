package dev.spanheap.internal;

import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;

/**
 * The size of the Lincheck runs: small enough for CI (all model checks together in well under
 * three minutes on two cores), multiplied by {@code -Dlincheck.scale=N} for a long run (see the
 * README's Testing section).
 */
final class LincheckRuns {

    private LincheckRuns() {
    }

    static ModelCheckingOptions modelChecking(int iterations, int invocations) {
        int scale = Integer.getInteger("lincheck.scale", 1);
        return new ModelCheckingOptions()
                .iterations(iterations * scale)
                .invocationsPerIteration(invocations)
                .threads(2)
                .actorsPerThread(3)
                .actorsBefore(1)
                .actorsAfter(1);
    }
}
