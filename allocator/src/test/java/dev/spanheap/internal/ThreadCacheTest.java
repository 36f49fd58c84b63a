package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** How deep a thread cache's classes may grow, and that a round of frees stays in the cache. */
class ThreadCacheTest {

    /** No heap profile: a sampled allocation would not come from the cache whose counts this test pins. */
    private final Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));

    @AfterEach
    void close() {
        heap.close();
    }

    @Test
    void classesUpToTwoKibKeepFourBatchesLargerOnesSixteen() {
        assertThat(ThreadCache.MAX_DEPTH[SizeClassLookup.sizeClassOf(16)]).isEqualTo(4 * 32);
        assertThat(ThreadCache.MAX_DEPTH[SizeClassLookup.sizeClassOf(2048)]).isEqualTo(4 * 32);
        // 4 KiB objects move 16 at a time; 32 KiB ones 2 at a time.
        assertThat(ThreadCache.MAX_DEPTH[SizeClassLookup.sizeClassOf(4096)]).isEqualTo(256);
        assertThat(ThreadCache.MAX_DEPTH[SizeClassLookup.sizeClassOf(32768)]).isEqualTo(16 * 2);
    }

    @Test
    void aRoundOf160FourKibBlocksFitsInTheCache() {
        int c = SizeClassLookup.sizeClassOf(4096);
        long[] blocks = new long[160];
        ThreadCache cache = heap.currentThreadCache();
        // Slow start: the limit grows with each round's misses until the whole round fits.
        for (int round = 0; round < 20; round++) {
            for (int i = 0; i < blocks.length; i++) {
                blocks[i] = heap.allocate(cache, 4096, 1);
            }
            for (long block : blocks) {
                heap.free(cache, block);
            }
        }
        int depth = cache.depth(c);
        assertThat(depth).isGreaterThanOrEqualTo(blocks.length);
        long mallocsBefore = cache.mallocs(c);
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = heap.allocate(cache, 4096, 1);
        }
        // Every block of the round came from the cache, none from the central list.
        assertThat(cache.depth(c)).isEqualTo(depth - blocks.length);
        assertThat(cache.mallocs(c) - mallocsBefore).isEqualTo(blocks.length);
        for (long block : blocks) {
            heap.free(cache, block);
        }
        cache.verify();
    }
}
