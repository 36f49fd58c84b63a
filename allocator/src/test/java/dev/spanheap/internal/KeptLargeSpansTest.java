package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.MemStats;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A freed large span of up to 1 MiB that a thread's cache keeps whole ({@link LargeBlocks#keep}):
 * a block aligned past a page, or a sampled block, each of which has a span of its own. Kept spans
 * serve the thread's next sampled allocations of their length. What a kept span must not let
 * through: a free of one of its inner pages, a second free, dirty pages handed out as zeroed, and a
 * sample or a count lost on the way through the cache or when its thread ends. PIT found each of
 * these unchecked (mutants of {@code keep}, {@code allocateSampled} and the retiring of an ended
 * thread's cache survived the allocator's tests).
 */
class KeptLargeSpansTest {

    /** 64 KiB aligned to 64 KiB: past a page, so a span of its own (8 pages), not a class object. */
    private static final long SIZE = 64 << 10;
    private static final long ALIGNMENT = 64 << 10;

    private Heap heap = newHeap(0);

    @AfterEach
    void close() {
        heap.close();
    }

    /** No background scavenger: a release between two steps would change what the tests pin. */
    private static Heap newHeap(long profileRate) {
        return new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, HeapConfig.DEFAULT_MAX_HEAP_BYTES,
                PageHeap.DEFAULT_COMMIT_STEP_PAGES, HeapConfig.DEFAULT_THREAD_CACHE_BYTES,
                HeapConfig.DEFAULT_TOTAL_CACHE_BYTES, false).withProfileRate(profileRate));
    }

    private int spanOf(long address) {
        return heap.pageHeap().pageMap.spanAt((int) ((address - heap.base()) >>> Pages.SHIFT));
    }

    /** The state of the span that holds {@code address}. */
    private byte stateOf(long address) {
        return heap.pageHeap().spans.state(spanOf(address));
    }

    private MemStats stats() {
        return new HeapStatistics(heap).snapshot();
    }

    /**
     * A page-aligned address inside the block reaches the large free's slow path, which offers the
     * span to the thread's cache first; the cache must take only the span's first page. The last
     * page's entry names the span (a large span maps its first and last pages), so it tests that
     * check, not a stale entry; a middle page's may name anything.
     */
    @ParameterizedTest(name = "page {0}")
    @ValueSource(ints = {1, 4, 7})
    void aFreeOfAnInnerPageIsRefusedAndLeavesTheBlockLive(int page) {
        long block = heap.allocate(SIZE, ALIGNMENT);
        assertThat(stateOf(block)).isEqualTo(SpanTable.LARGE);
        long objects = stats().heapObjects();

        long inner = block + (long) page * Pages.SIZE;
        assertThatThrownBy(() -> heap.free(inner)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("0x%x points inside a %d-byte block, not at its start", inner, SIZE);

        assertThat(stateOf(block)).as("still the user's").isEqualTo(SpanTable.LARGE);
        assertThat(stats().heapObjects()).isEqualTo(objects);
        heap.verify();
        heap.free(block);
        assertThat(stateOf(block)).as("kept").isEqualTo(SpanTable.CACHED);
        heap.verify();
    }

    @Test
    void aSecondFreeOfAKeptSpanIsADoubleFree() {
        long block = heap.allocate(SIZE, ALIGNMENT);
        heap.free(block);
        assertThat(stateOf(block)).isEqualTo(SpanTable.CACHED);
        assertThatThrownBy(() -> heap.free(block)).isInstanceOf(IllegalStateException.class)
                .hasMessage("double free of 0x%x: the block is already free", block);
        assertThatThrownBy(() -> heap.usableSize(block)).isInstanceOf(IllegalStateException.class)
                .hasMessage("0x%x is not allocated: it was freed", block);
        heap.verify();
    }

    /**
     * A new heap's pages count as released (never touched, they read as zero), and a large span
     * whose pages are all released is not cleared for {@code allocateZeroed}. Once its user has
     * written it, the kept span must no longer say so when a sample takes it back.
     */
    @Test
    void aKeptSpanIsClearedWhenHandedOutZeroed() {
        heap.close();
        heap = newHeap(1);
        long guard = heap.allocate(SIZE, 1);
        long block = heap.allocate(SIZE, ALIGNMENT);
        assertThat(block).isNotEqualTo(heap.base());
        int span = spanOf(block);
        assertThat(heap.pageHeap().spans.releasedPages(span)).as("fresh pages").isEqualTo(heap.pageHeap().spans.pages(span));
        MemorySegment memory = heap.segments().memory().asSlice(block - heap.base(), SIZE);
        memory.fill((byte) 0x5a);
        heap.free(block);
        assertThat(heap.pageHeap().spans.state(span)).isEqualTo(SpanTable.CACHED);

        long zeroed = heap.allocateZeroed(SIZE, 1);
        assertThat(zeroed).as("the kept span").isEqualTo(block);
        assertThat(memory.mismatch(MemorySegment.ofArray(new byte[(int) SIZE]))).isEqualTo(-1);
        heap.free(zeroed);
        heap.free(guard);
        heap.verify();
    }

    /**
     * With every allocation sampled, each block is a sampled span; freed, it is kept, and the next
     * sampled allocation of its length takes it back from the cache: the same address, with a
     * sample of its own, counted once in the statistics however often it goes round.
     */
    @Test
    void aKeptSampledSpanServesTheNextSampleWithItsOwnRecord() {
        heap.close();
        heap = newHeap(1);
        long guard = heap.allocate(SIZE, 1);
        long block = heap.allocate(SIZE, 1);
        assertThat(block).as("not at the heap's base, where a wrong address sum would still hold").isNotEqualTo(heap.base());
        assertThat(stateOf(block)).isEqualTo(SpanTable.SAMPLED);
        MemStats before = stats();
        int samples = heap.profiler().liveSamples();

        for (int round = 1; round <= 3; round++) {
            heap.free(block);
            assertThat(stateOf(block)).isEqualTo(SpanTable.CACHED);
            assertThat(heap.profiler().liveSamples()).isEqualTo(samples - 1);
            assertThat(stats().heapObjects()).isEqualTo(before.heapObjects() - 1);

            long again = heap.allocate(SIZE, 1);
            assertThat(again).as("round %d: the kept span", round).isEqualTo(block);
            assertThat(stateOf(again)).isEqualTo(SpanTable.SAMPLED);
            assertThat(heap.profiler().liveSamples()).isEqualTo(samples);
            assertThat(heap.profiler().blockSize(again)).isEqualTo(SIZE);
            assertThat(heap.usableSize(again)).isEqualTo(SIZE);
            RawMemory.ALL.set(ValueLayout.JAVA_LONG, again, round);

            MemStats now = stats();
            assertThat(now.heapObjects()).isEqualTo(before.heapObjects());
            assertThat(now.mallocs()).isEqualTo(before.mallocs() + round);
            assertThat(now.frees()).isEqualTo(before.frees() + round);
            assertThat(now.heapAlloc()).isEqualTo(before.heapAlloc());
            heap.verify();
        }
        heap.free(block);
        assertThat(stats().heapObjects()).isEqualTo(before.heapObjects() - 1);
        heap.free(guard);
        heap.verify();
    }

    /**
     * A thread that ends with a span kept in its cache: reaping retires the cache, gives the span
     * back to the page heap and keeps the cache's large counts, so the free still counts (without
     * them, the block would count as in use for ever).
     */
    @Test
    void anEndedThreadsKeptSpanStaysCountedAsFreed() throws InterruptedException {
        MemStats before = stats();
        long[] block = new long[1];
        Thread thread = Thread.ofPlatform().start(() -> {
            block[0] = heap.allocate(SIZE, ALIGNMENT);
            heap.free(block[0]);
        });
        thread.join();
        assertThat(stateOf(block[0])).as("kept by the ended thread").isEqualTo(SpanTable.CACHED);
        MemStats kept = stats();
        assertThat(kept.mallocs()).isEqualTo(before.mallocs() + 1);
        assertThat(kept.frees()).isEqualTo(before.frees() + 1);

        heap.caches().reap();
        assertThat(stateOf(block[0])).as("back in the page heap").isEqualTo(SpanTable.FREE);
        MemStats reaped = stats();
        assertThat(reaped.mallocs()).isEqualTo(kept.mallocs());
        assertThat(reaped.frees()).isEqualTo(kept.frees());
        assertThat(reaped.heapObjects()).isEqualTo(before.heapObjects());
        heap.verify();
    }
}
