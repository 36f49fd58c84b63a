package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.junit.jupiter.api.Test;

/**
 * Model checking of {@link CacheBudget}'s lock-free grant: every interleaving Lincheck explores must
 * be explainable by some sequential order of the same calls (linearizability), so the budget is
 * never overdrawn and a grant never gets lost. A copy with the compare-and-set replaced by a read
 * and a write shows that the check finds such a race.
 */
@Param(name = "bytes", gen = IntGen.class, conf = "1:6")
public class CacheBudgetLincheckTest {

    private final CacheBudget budget = new CacheBudget(8, 8);

    @Operation
    public long request(@Param(name = "bytes") int bytes) {
        return budget.request(bytes);
    }

    @Operation
    public long granted() {
        return budget.granted();
    }

    @Test
    void grantsAreLinearizable() {
        LincheckRuns.modelChecking(30, 500).check(getClass());
    }

    /** {@link CacheBudget#request} with its compare-and-set split into a read and a write. */
    @Param(name = "bytes", gen = IntGen.class, conf = "1:6")
    public static class RacyBudget {
        private volatile long granted;

        @Operation
        public long request(@Param(name = "bytes") int wanted) {
            long current = granted;
            long grant = Math.min(wanted, 8 - current);
            if (grant <= 0) {
                return 0;
            }
            granted = current + grant;
            return grant;
        }

        @Operation
        public long granted() {
            return granted;
        }
    }

    @Test
    void theCheckFindsABudgetWithoutItsCompareAndSet() {
        assertThatThrownBy(() -> LincheckRuns.modelChecking(30, 500).check(RacyBudget.class))
                .isInstanceOf(AssertionError.class)
                .hasMessageContaining("Invalid execution results");
    }
}
