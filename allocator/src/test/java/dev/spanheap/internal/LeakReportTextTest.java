package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.MemStats;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The leak report's text when the statistics count blocks that no sample stands for. The public
 * paths are pinned by the black-box {@code LeakReportTest}; a close racing frees, the one way to
 * reach this with every allocation sampled, cannot be timed from there.
 */
class LeakReportTextTest {

    @Test
    void unsampledBlocksAtRateOneWereFreedDuringTheReport() {
        assertThat(LeakReport.describe("racing", inUse(1, 491_520), new HeapProfiler(1), true))
                .isEqualTo("Spanheap 'racing' closed with 1 block (491520 bytes) still in use."
                        + " None of them has a sample left, though every allocation is sampled:"
                        + " they were freed while this report was made.");
    }

    @Test
    void unsampledBlocksAtALongerRateAskForAShorterOne() {
        assertThat(LeakReport.describe("sparse", inUse(2, 416), new HeapProfiler(512 << 10), false))
                .isEqualTo("Spanheap 'sparse' has 2 blocks (416 bytes) in use. None of them was sampled"
                        + " (one allocation per 524288 bytes allocated is); lower profileRate to see where"
                        + " they come from.");
    }

    private static MemStats inUse(long blocks, long bytes) {
        return new MemStats(0, 0, bytes, 0, 0, 0, blocks, blocks, 0, bytes, 0, 0, 0, List.of());
    }
}
