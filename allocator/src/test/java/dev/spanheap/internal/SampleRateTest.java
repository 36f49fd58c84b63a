package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How the sampling rate follows what samples cost (see {@link SampleRate}); times in nanoseconds. */
class SampleRateTest {

    @Test
    void samplesFasterThanOneHundredTimesTheirCostDoubleTheRateUpToItsCap() {
        SampleRate rate = new SampleRate(512 << 10);
        assertThat(rate.afterSample(0, 1_000)).as("the first sample only starts the clock").isEqualTo(512 << 10);
        // 50 µs after 1 µs samples: under 100 µs, so sampling would take over 1% of the time.
        assertThat(rate.afterSample(51_000, 52_000)).isEqualTo(1 << 20);
        assertThat(rate.afterSample(102_000, 103_000)).isEqualTo(2 << 20);
        long now = 103_000;
        for (int i = 0; i < 100; i++) {
            rate.afterSample(now + 10, now + 1_010);
            now += 1_010;
        }
        assertThat(rate.current()).isEqualTo(SampleRate.MAX_RATE);
    }

    @Test
    void slowSamplesBringItBackAtOnceButNeverBelowTheHeapsRate() {
        SampleRate rate = new SampleRate(512 << 10);
        rate.afterSample(0, 1_000);
        for (int i = 1; i <= 6; i++) {
            rate.afterSample(i * 2_000L, i * 2_000L + 1_000);
        }
        assertThat(rate.current()).isEqualTo(32L << 20);
        // Between one and two times the target (100 µs for 1 µs samples): the rate holds.
        assertThat(rate.afterSample(13_000 + 150_000, 13_000 + 151_000)).isEqualTo(32L << 20);
        // 1.6 ms after the last: the rate that would have taken 100 µs, a sixteenth.
        assertThat(rate.afterSample(164_000 + 1_600_000, 164_000 + 1_601_000)).isEqualTo(2L << 20);
        // Seconds later: back to the heap's rate, and no lower.
        assertThat(rate.afterSample(10_000_000_000L, 10_000_001_000L)).isEqualTo(512 << 10);
    }

    @Test
    void oneSlowSampleDoesNotCountAsTheCostOfAll() {
        SampleRate rate = new SampleRate(512 << 10);
        rate.afterSample(0, 1_000);
        // A 5 ms sample (a pause hit it) counts as 20 µs at most, and only an eighth of it: the
        // smoothed cost becomes 3.4 µs, the target 340 µs, and 400 µs later the rate holds.
        rate.afterSample(1_000_000, 6_000_000);
        assertThat(rate.afterSample(6_400_000, 6_401_000)).isEqualTo(512 << 10);
    }

    @Test
    void everyAllocationSampledNeverAdapts() {
        SampleRate rate = new SampleRate(1);
        rate.afterSample(0, 1_000);
        assertThat(rate.afterSample(1_000, 2_000)).isEqualTo(1);
    }

    @Test
    void theTargetIsOneHundredTimesTheSmoothedCostExclusiveAtBothBounds() {
        // 1 µs samples throughout: the smoothed cost stays 1 µs, the target 100 µs.
        SampleRate rate = new SampleRate(512 << 10);
        rate.afterSample(0, 1_000);
        assertThat(rate.afterSample(101_000, 102_000)).as("exactly the target apart: within it").isEqualTo(512 << 10);
        assertThat(rate.afterSample(201_999, 202_999)).as("just under the target: doubles").isEqualTo(1 << 20);
        assertThat(rate.afterSample(402_999, 403_999)).as("exactly twice the target: holds").isEqualTo(1 << 20);
        assertThat(rate.afterSample(604_000, 605_000)).as("just over twice: scaled back to the heap's")
                .isEqualTo(512 << 10);
    }

    @Test
    void theCostIsAnEighthOfTheWayFromTheOldAverageToTheNewSample() {
        SampleRate rate = new SampleRate(512 << 10);
        rate.afterSample(0, 1_000);
        // 9 µs: the average moves from 1 to 2 µs, a 200 µs target; 300 µs apart is within twice that.
        assertThat(rate.afterSample(301_000, 310_000)).isEqualTo(512 << 10);
        // 1 µs: the average moves to 1.875 µs, a 187.5 µs target, and 150 µs is under it.
        assertThat(rate.afterSample(460_000, 461_000)).isEqualTo(1 << 20);
    }
}
