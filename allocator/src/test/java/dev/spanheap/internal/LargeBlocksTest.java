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
     * A free's checks read the page map without the page heap's lock, so the free run they saw may
     * be merged away before the large free takes the lock; the large free therefore finds the span
     * itself, under the lock. Here the run that {@code second}'s pages formed when it was freed is
     * destroyed by a merge before its second free is handled (as when the scavenger's release
     * merged it in between): that free is still a double free, not an address in free pages (what
     * SpanheapErrorsTest met about once in ten runs while the large free trusted the caller's span).
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
        assertThatThrownBy(() -> heap.large().free(second, offset)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free of 0x" + Long.toHexString(second));
        heap.free(guard);
        heap.verify();
    }
}
