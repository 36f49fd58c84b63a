package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.spanheap.proptest.Property;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/**
 * The harness finds bugs planted in the model and in the heap's wrapper, and shrinks each failure to
 * the few steps that show it: the proof that {@link HeapModelProperties} could fail.
 */
class PlantedBugsTest {

    /** The shrunk input is printed on the failure's third line. */
    private static String shrunkInput(AssertionFailedError failure) {
        return failure.getMessage().lines().skip(2).findFirst().orElseThrow().trim();
    }

    @Test
    void aModelThatThinksBlocksEndOneBytePastTheirEndIsCaughtWithAFewSmallestAllocations() {
        AssertionFailedError failure = catchThrowableOfType(AssertionFailedError.class, () ->
                Property.forAll(HeapOps.sequences(1, 48 << 10, false, 100)).tries(50).seed(1)
                        .check(ops -> {
                            try (HeapModel model = new HeapModel(false, 1, HeapModel.Freeing.HONEST, 1)) {
                                model.run(ops);
                            }
                        }));
        assertThat(failure).as("the off-by-one is found").isNotNull();
        assertThat(failure.getCause()).hasMessageContaining("overlaps");
        // Two or three allocations and nothing else: the smallest ones when the thread cache hands out
        // two objects of the first batch next to each other, or a block that ends its span and a
        // smallest one at the start of the next span, depending on what the seed's generator drew.
        assertThat(shrunkInput(failure))
                .matches("\\[Allocate\\[thread=0, size=\\d+, alignment=1, via=SEGMENT]"
                        + "(, Allocate\\[thread=0, size=0, alignment=1, via=SEGMENT]){1,2}]");
    }

    @Test
    void aWrapperThatLosesFreesOfBlocksOver3000BytesIsCaughtWithTheSmallestSuchBlock() {
        HeapModel.Freeing losing = (heap, block, via) -> {
            if (block.size() <= 3000) {
                HeapModel.Freeing.HONEST.free(heap, block, via);
            }
        };
        AssertionFailedError failure = catchThrowableOfType(AssertionFailedError.class, () ->
                Property.forAll(HeapOps.sequences(1, 3L << 20, false, 100)).tries(50).seed(2)
                        .check(ops -> {
                            try (HeapModel model = new HeapModel(false, 1, losing, 0)) {
                                model.run(ops);
                            }
                        }));
        assertThat(failure).as("the lost free is found").isNotNull();
        assertThat(shrunkInput(failure)).isEqualTo("[Allocate[thread=0, size=3001, alignment=1, via=SEGMENT], "
                + "Free[thread=0, pick=0, via=SEGMENT]]");
    }

    @Test
    void aFailureNamesItsSeedAndTheCommandThatRerunsIt() {
        AssertionFailedError failure = catchThrowableOfType(AssertionFailedError.class, () ->
                Property.forAll(HeapOps.sequences(1, 1024, false, 50)).tries(20).seed(3)
                        .check(ops -> assertThat(ops).hasSizeLessThan(3)));
        assertThat(failure.getMessage())
                .contains("(seed ")
                .contains("-Dtest='PlantedBugsTest#aFailureNamesItsSeedAndTheCommandThatRerunsIt'")
                .contains("-Dproptest.seed=");
        long seed = Long.parseLong(failure.getMessage().replaceAll("(?s).*-Dproptest\\.seed=(-?\\d+).*", "$1"));
        // The printed seed replays the failure on the first try.
        AssertionFailedError again = catchThrowableOfType(AssertionFailedError.class, () ->
                Property.forAll(HeapOps.sequences(1, 1024, false, 50)).tries(1).seed(seed)
                        .check(ops -> assertThat(ops).hasSizeLessThan(3)));
        assertThat(again.getMessage()).startsWith("property failed on try 1 (seed " + seed + ")\n");
        assertThat(shrunkInput(again)).isEqualTo(shrunkInput(failure));
        assertThat(List.of(shrunkInput(again).split("], ")).size()).isEqualTo(3);
    }
}
