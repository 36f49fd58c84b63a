package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link MemStats#cachedBytes()}: the free blocks held for reuse above the page heap, wherever they
 * wait (a thread's cache, a central transfer stack, a thread's kept large spans), and the counts of
 * blocks that a kept large span serves.
 */
class CachedBytesTest {

    private static final long PAGE = 8 << 10;

    /** Unchecked whatever -Dspanheap.checked says: checked mode keeps no freed spans in threads' caches. */
    private final Spanheap heap = Spanheap.builder().profileRate(0).scavenger(false).checked(false).build();

    @AfterEach
    void close() {
        heap.close();
    }

    @Test
    void aFreedSmallBlockIsCachedUntilMemoryIsReleased() {
        long block = heap.malloc(256);
        long before = heap.memStats().cachedBytes();
        heap.free(block);
        assertThat(heap.memStats().cachedBytes()).as("in the thread's cache").isEqualTo(before + 256);
        heap.flushThreadCache();
        assertThat(heap.memStats().cachedBytes()).as("in the central transfer stack").isEqualTo(before + 256);
        heap.releaseMemory();
        assertThat(heap.memStats().cachedBytes()).isZero();
    }

    /**
     * A block aligned past a page has a span of its own, which its thread keeps when it is freed
     * (for the heap profile's samples, which take spans of their own too), counted as cached and
     * its free counted.
     */
    @Test
    void aFreedBlockAlignedPastAPageIsCachedAsItsSpan() {
        long spanBytes = 3 * PAGE;
        MemorySegment block = heap.allocate(20 << 10, 16 << 10);
        MemStats live = heap.memStats();
        heap.free(block);
        MemStats freed = heap.memStats();
        assertThat(freed.cachedBytes() - live.cachedBytes()).isEqualTo(spanBytes);
        assertThat(freed.frees() - live.frees()).isEqualTo(1);
        assertThat(freed.heapObjects()).isEqualTo(live.heapObjects() - 1);
        assertThat(freed.heapAlloc()).isEqualTo(live.heapAlloc() - spanBytes);
        assertThat(freed.heapInuse()).as("a kept span is in use").isEqualTo(live.heapInuse());
        heap.flushThreadCache();
        assertThat(heap.memStats().cachedBytes()).isEqualTo(live.cachedBytes());
        heap.verify();
    }
}
