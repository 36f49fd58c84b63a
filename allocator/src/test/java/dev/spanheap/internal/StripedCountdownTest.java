package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class StripedCountdownTest {

    /** Two thread ids that count in different stripes. */
    private static final long FIRST = 3;
    private static final long SECOND = 4;

    @Test
    void eachStripeCountsOnlyItsOwnThreadsBytes() {
        assertThat(StripedCountdown.stripeOf(FIRST)).isNotEqualTo(StripedCountdown.stripeOf(SECOND));
        StripedCountdown countdown = new StripedCountdown(() -> 1000);
        assertThat(countdown.countDown(FIRST, 400)).isFalse();
        assertThat(countdown.countDown(FIRST, 400)).isFalse();
        assertThat(countdown.remaining(StripedCountdown.stripeOf(FIRST))).isEqualTo(200);
        assertThat(countdown.remaining(StripedCountdown.stripeOf(SECOND))).isEqualTo(1000);
        assertThat(countdown.countDown(SECOND, 999)).as("the second thread's stripe has 1 byte left").isFalse();
        assertThat(countdown.countDown(FIRST, 200)).as("exactly used up is not yet a sample").isFalse();
        assertThat(countdown.countDown(FIRST, 1)).as("the byte that takes it below zero").isTrue();
        assertThat(countdown.remaining(StripedCountdown.stripeOf(FIRST))).as("restarted").isEqualTo(1000);
        assertThat(countdown.remaining(StripedCountdown.stripeOf(SECOND))).isEqualTo(1);
    }

    @Test
    void threadsOfOneStripeShareItsCountdown() {
        long sameStripe = FIRST + StripedCountdown.STRIPES;
        assertThat(StripedCountdown.stripeOf(sameStripe)).isEqualTo(StripedCountdown.stripeOf(FIRST));
        StripedCountdown countdown = new StripedCountdown(() -> 100);
        assertThat(countdown.countDown(FIRST, 60)).isFalse();
        assertThat(countdown.countDown(sameStripe, 60)).isTrue();
    }

    /**
     * Allocations of 64 bytes by threads spread over every stripe, at a mean of 4096 bytes per sample:
     * the number of samples is Poisson with mean (allocations) x (1 - exp(-64/4096)), and must land
     * within five standard deviations of it, as one countdown's would.
     */
    @Test
    void samplesOverAllStripesAreAPoissonProcessOverTheBytes() {
        SplittableRandom random = new SplittableRandom(11);
        double mean = 4096;
        StripedCountdown countdown = new StripedCountdown(() -> (long) (-Math.log1p(-random.nextDouble()) * mean));
        int allocations = 4_000_000;
        int samples = 0;
        for (int i = 0; i < allocations; i++) {
            if (countdown.countDown(random.nextLong(1, 1 << 20), 64)) {
                samples++;
            }
        }
        double expected = allocations * -Math.expm1(-64 / mean);
        assertThat((double) samples).isBetween(expected - 5 * Math.sqrt(expected), expected + 5 * Math.sqrt(expected));
    }
}
