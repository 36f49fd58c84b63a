package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How the sampling rate follows what samples cost (see {@link SampleRate}); times in nanoseconds. */
class SampleRateTest {

    @Test
    void samplesFasterThanOneHundredTimesTheirCostDoubleTheRateUpToItsCap() {
        SampleRate rate = new SampleRate(512 << 10);
        assertThat(rate.afterSample(0, 1_000)).as("the first sample only starts the clock").isEqualTo(512 << 10);
        // 50 µs after a 1 µs sample: under 100 µs, so sampling would take over 1% of the time.
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
    void slowSamplesBringItBackButNeverBelowTheHeapsRate() {
        SampleRate rate = new SampleRate(512 << 10);
        rate.afterSample(0, 1_000);
        rate.afterSample(2_000, 3_000);
        rate.afterSample(4_000, 5_000);
        assertThat(rate.current()).isEqualTo(2 << 20);
        // Between 100 and 400 times the cost: the rate holds.
        assertThat(rate.afterSample(205_000, 206_000)).isEqualTo(2 << 20);
        // Over 400 times: it halves, down to the heap's rate and no further.
        assertThat(rate.afterSample(1_000_000, 1_001_000)).isEqualTo(1 << 20);
        assertThat(rate.afterSample(2_000_000, 2_001_000)).isEqualTo(512 << 10);
        assertThat(rate.afterSample(3_000_000, 3_001_000)).isEqualTo(512 << 10);
    }

    @Test
    void everyAllocationSampledNeverAdapts() {
        SampleRate rate = new SampleRate(1);
        rate.afterSample(0, 1_000);
        assertThat(rate.afterSample(1_000, 2_000)).isEqualTo(1);
    }
}
