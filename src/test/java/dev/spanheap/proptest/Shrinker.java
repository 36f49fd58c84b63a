package dev.spanheap.proptest;

import java.util.Arrays;
import java.util.function.Function;

/**
 * Shrinks a failing stream of choices to a locally minimal one: no single edit below makes it
 * simpler while the property still fails with the same kind of error.
 *
 * <p>"Simpler" is shortlex order on the choices: fewer choices first, then the lexicographically
 * smaller. Passes, repeated until none helps or the budget of runs is spent:
 * <ol>
 *   <li>delete runs of whole list elements (operations of a sequence), as the generator marked
 *       them: halves, quarters, ... single ones; repeated alone while it helps;</li>
 *   <li>delete a run of 8, 4, 2 or 1 consecutive choices (drops whole operations, list elements);</li>
 *   <li>zero a run of 8, 4, 2 or 1 choices (ends lists early, picks first alternatives);</li>
 *   <li>lower each choice: to 0, then by binary search to the smallest value that still fails.</li>
 * </ol>
 * Every accepted candidate is replaced by the choices its run actually drew, so choices a shorter
 * input no longer reads disappear at once.
 */
final class Shrinker {

    /** What one run of the property on some choices gave: the choices drawn and the failure, if any. */
    record Outcome(long[] drawn, int[] elements, Throwable failure) {
    }

    private final Function<long[], Outcome> run;
    private final Class<? extends Throwable> failureKind;
    private final int budget;
    private int runs;
    private long[] best;
    /** The [start, end) pairs of the list elements in {@link #best}. */
    private int[] bestElements;
    private Throwable bestFailure;
    private int accepted;

    /**
     * @param run          runs the property on replayed choices
     * @param failing      the outcome of the failing try
     * @param budget       the most property runs to spend
     */
    Shrinker(Function<long[], Outcome> run, Outcome failing, int budget) {
        this.run = run;
        this.best = failing.drawn();
        this.bestElements = failing.elements();
        this.bestFailure = failing.failure();
        this.failureKind = failing.failure().getClass();
        this.budget = budget;
    }

    long[] best() {
        return best;
    }

    Throwable bestFailure() {
        return bestFailure;
    }

    /** Edits accepted. */
    int accepted() {
        return accepted;
    }

    int runs() {
        return runs;
    }

    Shrinker shrink() {
        boolean progress = true;
        while (progress && runs < budget) {
            // Whole operations first, while that helps: cheap, and it shortens every later pass.
            progress = deleteElements() || deleteRuns() | zeroRuns() | lowerEach();
        }
        return this;
    }

    /**
     * Deletes runs of consecutive list elements (operations of a sequence): half of them, then
     * quarters, down to single elements, last first (delta debugging's order). Most steps of a
     * long failing sequence are irrelevant, and large runs of them go in a few tries.
     */
    private boolean deleteElements() {
        boolean any = false;
        for (int width = Integer.highestOneBit(Math.max(1, bestElements.length / 4)); width >= 1; width /= 2) {
            int count = bestElements.length / 2;
            for (int first = count - width; first >= 0 && runs < budget; first -= width) {
                int last = first + width - 1;
                if (2 * last + 1 >= bestElements.length) {
                    continue;
                }
                int start = bestElements[2 * first];
                int end = bestElements[2 * last + 1];
                if (end > best.length || end <= start) {
                    continue;
                }
                long[] candidate = new long[best.length - (end - start)];
                System.arraycopy(best, 0, candidate, 0, start);
                System.arraycopy(best, end, candidate, start, best.length - end);
                if (tryCandidate(candidate)) {
                    any = true;
                    count = bestElements.length / 2;
                }
            }
        }
        return any;
    }

    private boolean deleteRuns() {
        boolean any = false;
        for (int width = 8; width >= 1; width /= 2) {
            for (int at = best.length - width; at >= 0 && runs < budget; at--) {
                if (at + width > best.length) {
                    continue;
                }
                long[] candidate = new long[best.length - width];
                System.arraycopy(best, 0, candidate, 0, at);
                System.arraycopy(best, at + width, candidate, at, best.length - at - width);
                any |= tryCandidate(candidate);
            }
        }
        return any;
    }

    private boolean zeroRuns() {
        boolean any = false;
        for (int width = 8; width >= 1; width /= 2) {
            for (int at = best.length - width; at >= 0 && runs < budget; at--) {
                if (at + width > best.length || allZero(best, at, width)) {
                    continue;
                }
                long[] candidate = best.clone();
                Arrays.fill(candidate, at, at + width, 0);
                any |= tryCandidate(candidate);
            }
        }
        return any;
    }

    private boolean lowerEach() {
        boolean any = false;
        for (int at = 0; at < best.length && runs < budget; at++) {
            long value = best[at];
            if (value == 0) {
                continue;
            }
            if (tryWith(at, 0)) {
                any = true;
                continue;
            }
            // best[at] fails, 0 does not: find the smallest failing value in between.
            long passes = 0;
            long fails = value;
            while (fails - passes > 1 && runs < budget && at < best.length) {
                long middle = passes + (fails - passes) / 2;
                if (tryWith(at, middle)) {
                    fails = middle;
                    any = true;
                } else {
                    passes = middle;
                }
            }
        }
        return any;
    }

    private boolean tryWith(int at, long value) {
        if (at >= best.length) {
            return false;
        }
        long[] candidate = best.clone();
        candidate[at] = value;
        return tryCandidate(candidate);
    }

    private static boolean allZero(long[] values, int from, int width) {
        for (int i = from; i < from + width; i++) {
            if (values[i] != 0) {
                return false;
            }
        }
        return true;
    }

    /** Runs the property on {@code candidate}; keeps it when it fails alike and is simpler. */
    private boolean tryCandidate(long[] candidate) {
        runs++;
        Outcome outcome = run.apply(candidate);
        if (outcome.failure() == null || outcome.failure().getClass() != failureKind
                || !simpler(outcome.drawn(), best)) {
            return false;
        }
        best = outcome.drawn();
        bestElements = outcome.elements();
        bestFailure = outcome.failure();
        accepted++;
        return true;
    }

    /** Shortlex order: shorter, or as long and lexicographically smaller. */
    static boolean simpler(long[] a, long[] b) {
        if (a.length != b.length) {
            return a.length < b.length;
        }
        return Arrays.compare(a, b) < 0;
    }
}
