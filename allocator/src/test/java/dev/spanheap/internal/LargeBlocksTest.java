package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link LargeBlocks}: blocks past the classes, with their own spans. */
class LargeBlocksTest {

    private static final long MIB = 1 << 20;

    private final Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));

    @AfterEach
    void close() {
        heap.close();
    }

    private int spanOf(long address) {
        return heap.pageHeap().pageMap.spanAt((int) ((address - heap.base()) >>> Pages.SHIFT));
    }

    /**
     * A free reads its page-map entry without the page heap's lock, so the free run it names may be
     * merged away before the lock is taken: the free must look again under the lock. Here the
     * record that a second free of {@code second} read is destroyed by the time it is handled, as
     * when the scavenger's release merged it in between; the free is still a double free, not an
     * address in free pages (what SpanheapErrorsTest met about once in ten runs).
     */
    @Test
    void aDoubleFreeWhoseFreeRunWasMergedMeanwhileIsStillADoubleFree() {
        long first = heap.allocate(3 * MIB, 1);
        long second = heap.allocate(2 * MIB, 1);
        long guard = heap.allocate(2 * MIB, 1);
        assertThat(second).isEqualTo(first + 3 * MIB);
        heap.free(second);
        int staleRun = spanOf(second);
        heap.free(first);
        assertThat(heap.pageHeap().spans.state(staleRun)).as("merged into the longer run").isEqualTo(SpanTable.UNUSED);

        long offset = second - heap.base();
        assertThatThrownBy(() -> heap.large().free(second, offset, staleRun)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free of 0x" + Long.toHexString(second));
        heap.free(guard);
        heap.verify();
    }
}
