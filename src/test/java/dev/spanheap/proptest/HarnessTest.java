package dev.spanheap.proptest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/** The harness's own behaviour: reproducible generation, ranges, replay, and shrinking to minimal inputs. */
class HarnessTest {

    private static final Gen<List<Long>> LISTS = Gen.lists(Gen.longs(0, 100), 0, 30);

    @Test
    void theSameSeedGivesTheSameValues() {
        assertThat(LISTS.generate(Choices.random(42))).isEqualTo(LISTS.generate(Choices.random(42)));
        assertThat(LISTS.generate(Choices.random(42))).isNotEqualTo(LISTS.generate(Choices.random(43)));
    }

    @Test
    void replayingTheRecordedChoicesGivesTheSameValue() {
        Choices original = Choices.random(7);
        List<Long> value = LISTS.generate(original);
        assertThat(LISTS.generate(Choices.replay(original.recorded()))).isEqualTo(value);
    }

    @Test
    void generatorsStayInTheirRanges() {
        Property.forAll(Gen.lists(Gen.logUniform(3, 5000), 2, 9)).tries(300).check(list -> {
            assertThat(list).hasSizeBetween(2, 9);
            assertThat(list).allSatisfy(value -> assertThat(value).isBetween(3L, 5000L));
        });
        Property.forAll(Gen.longs(Long.MIN_VALUE, Long.MAX_VALUE)).tries(100).check(value -> { });
        assertThatThrownBy(() -> Gen.longs(5, 4)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void logUniformCoversEveryOrderOfMagnitudeAndBothEnds() {
        List<Long> values = new ArrayList<>();
        Property.forAll(Gen.logUniform(0, 1L << 20)).tries(2000).seed(5).check(values::add);
        for (int bits = 1; bits <= 20; bits++) {
            long low = 1L << (bits - 1);
            long high = 1L << bits;
            assertThat(values).as("a value in [%d, %d)", low, high).anyMatch(v -> v >= low && v < high);
        }
        assertThat(Gen.logUniform(0, 1L << 20).generate(Choices.replay(new long[] {0}))).isZero();
    }

    @Test
    void aFailingListShrinksToTheSingleSmallestCounterexample() {
        AssertionFailedError failure = catchThrowableOfType(AssertionFailedError.class, () ->
                Property.forAll(LISTS).tries(200).seed(11)
                        .check(list -> assertThat(list).allMatch(value -> value < 50)));
        assertThat(failure.getMessage().lines().skip(2).findFirst().orElseThrow().trim()).isEqualTo("[50]");
    }

    @Test
    void theScaleMultipliesTheTries() {
        String previous = System.getProperty("proptest.scale");
        System.setProperty("proptest.scale", "3");
        try {
            assertThat(Property.forAll(Gen.booleans()).tries(7).check(value -> { })).isEqualTo(21);
        } finally {
            if (previous == null) {
                System.clearProperty("proptest.scale");
            } else {
                System.setProperty("proptest.scale", previous);
            }
        }
    }

    @Test
    void shortlexOrderPrefersShorterThenSmaller() {
        assertThat(Shrinker.simpler(new long[] {9}, new long[] {0, 0})).isTrue();
        assertThat(Shrinker.simpler(new long[] {1, 2}, new long[] {1, 3})).isTrue();
        assertThat(Shrinker.simpler(new long[] {1, 3}, new long[] {1, 3})).isFalse();
    }
}
