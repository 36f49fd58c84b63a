package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A release gives back the metadata of the pages it releases (see {@link MetadataReleases}): the
 * page-map entries inside a free run read 0 afterwards, and every check that reads them still
 * tells a double free, an address in free pages and a live block apart.
 */
class MetadataReleasesTest {

    private static final int ENTRIES_PER_METADATA_PAGE = (int) (Pages.SIZE / Long.BYTES);
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable closeable : toClose) {
            closeable.close();
        }
    }

    private PageHeap pageHeap(long bytes) {
        PageHeap heap = new PageHeap(LinuxOsMemory.INSTANCE, bytes, PageHeap.DEFAULT_COMMIT_STEP_PAGES);
        toClose.add(heap::close);
        return heap;
    }

    /** Entries of pages {@code [from, to)} that read 0. */
    private static int zeroEntries(PageHeap heap, int from, int to) {
        int zeros = 0;
        for (int page = from; page < to; page++) {
            zeros += heap.pageMap.entry(page) == 0 ? 1 : 0;
        }
        return zeros;
    }

    @Test
    void aReleasedRunKeepsItsEndsAndGivesBackTheEntriesInside() {
        PageHeap heap = pageHeap(1L << 30);
        int pages = 8 * ENTRIES_PER_METADATA_PAGE;
        int before = heap.allocate(1, Pages.SIZE, SpanTable.LARGE);
        int big = heap.allocate(pages, Pages.SIZE, SpanTable.LARGE);
        int after = heap.allocate(1, Pages.SIZE, SpanTable.LARGE);
        int start = heap.spans.start(big);
        assertThat(zeroEntries(heap, start, start + pages)).as("a span in use maps every page").isZero();

        heap.free(big);
        heap.release(Long.MAX_VALUE);
        heap.verify();
        int run = heap.pageMap.spanAt(start);
        assertThat(heap.spans.state(run)).isEqualTo(SpanTable.FREE);
        assertThat(heap.pageMap.spanAt(start + pages - 1)).as("the run's last page").isEqualTo(run);
        // All but the two partial metadata pages at the ends read 0.
        assertThat(zeroEntries(heap, start, start + pages))
                .isGreaterThanOrEqualTo(pages - 2 * ENTRIES_PER_METADATA_PAGE);

        // Carving from the released run maps the new span's pages and the rest's ends again.
        int carved = heap.allocate(pages / 2 + 3, Pages.SIZE, SpanTable.LARGE);
        heap.verify();
        int carvedStart = heap.spans.start(carved);
        assertThat(zeroEntries(heap, carvedStart, carvedStart + pages / 2 + 3)).isZero();
        heap.free(carved);
        heap.free(before);
        heap.free(after);
        heap.verify();
        assertThat(heap.describe()).doesNotContain("L");
    }

    @Test
    void aGrowthWritesOnlyTheEndsOfItsRun() {
        PageHeap heap = pageHeap(64L << 30);
        int pages = 40 * ENTRIES_PER_METADATA_PAGE;
        int block = heap.allocate(pages + 1, Pages.SIZE, SpanTable.LARGE);
        heap.free(heap.allocate(1, Pages.SIZE, SpanTable.LARGE));
        int committed = heap.counts().committed();
        assertThat(committed).isGreaterThan(pages + 3);
        // The growth past the block left a free run whose inside was never written.
        int tail = heap.spans.start(block) + pages + 1;
        assertThat(heap.pageMap.spanAt(tail)).isNotZero();
        assertThat(heap.pageMap.spanAt(committed - 1)).isEqualTo(heap.pageMap.spanAt(tail));
        assertThat(zeroEntries(heap, tail + 2, committed - 1)).isEqualTo(committed - 1 - (tail + 2));
        heap.verify();
    }

    /**
     * Random large allocations (aligned or not), frees and releases of any size, including the
     * scavenger's partial ones, with the page heap's invariants checked after every step: the
     * entries inside free runs may be 0, every other entry names its span.
     */
    @Test
    void randomAllocationsFreesAndReleasesKeepThePageMapValid() {
        for (long seed = 1; seed <= 6; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            PageHeap heap = pageHeap(4L << 30);
            List<Integer> live = new ArrayList<>();
            for (int step = 0; step < 300; step++) {
                int choice = random.nextInt(10);
                if (choice < 5 || live.isEmpty()) {
                    int pages = random.nextBoolean() ? 1 + random.nextInt(64) : 1 + random.nextInt(6 * ENTRIES_PER_METADATA_PAGE);
                    long align = Pages.SIZE << random.nextInt(random.nextInt(4) == 0 ? 10 : 1);
                    int span = heap.allocate(pages, align, SpanTable.LARGE);
                    assertThat(span).as("seed %d step %d", seed, step).isNotZero();
                    live.add(span);
                } else if (choice < 8) {
                    heap.free(live.remove(random.nextInt(live.size())));
                } else {
                    heap.release(random.nextBoolean() ? Long.MAX_VALUE : (1L + random.nextInt(4096)) * Pages.SIZE);
                }
                try {
                    heap.verify();
                } catch (IllegalStateException broken) {
                    throw new AssertionError("seed " + seed + " step " + step + ": " + broken.getMessage(), broken);
                }
            }
        }
    }

    @Test
    void aSecondFreeOfALargeBlockInAReleasedRunIsStillADoubleFree() {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        toClose.add(heap::close);
        long guard = heap.allocate(64L << 20, 1);
        long block = heap.allocate(64L << 20, 1);
        heap.free(guard);
        heap.free(block);
        heap.releaseMemory();
        heap.verify();
        // The block's first page lies inside the merged run now, where entries read 0.
        assertThat(heap.pageHeap().pageMap.entry((int) ((block - heap.base()) >>> Pages.SHIFT))).isZero();
        assertThatThrownBy(() -> heap.free(block)).isInstanceOf(IllegalStateException.class)
                .hasMessage("double free of 0x%x: the block is already free", block);
        long inside = block + (16L << 20);
        assertThatThrownBy(() -> heap.free(inside)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("0x%x is not a block of this heap: it lies in free pages", inside);
        assertThatThrownBy(() -> heap.usableSize(block)).isInstanceOf(IllegalStateException.class)
                .hasMessage("0x%x is not allocated: it was freed", block);
        heap.verify();
    }

    @Test
    void aSecondFreeOfASmallBlockWhoseSpanWasReleasedIsStillADoubleFree() {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        toClose.add(heap::close);
        List<Long> blocks = new ArrayList<>();
        for (int i = 0; i < 32 << 10; i++) {
            blocks.add(heap.allocate(1024, 1));
        }
        blocks.forEach(heap::free);
        heap.releaseMemory();
        heap.verify();
        // Their spans went back to the page heap and were released, page-map entries inside the runs too.
        long unmapped = blocks.stream()
                .filter(address -> heap.pageHeap().pageMap.entry((int) ((address - heap.base()) >>> Pages.SHIFT)) == 0)
                .count();
        assertThat(unmapped).isGreaterThan(blocks.size() / 2);
        for (long address : List.of(blocks.get(0), blocks.get(blocks.size() / 2), blocks.getLast())) {
            assertThatThrownBy(() -> heap.free(address)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("double free of 0x" + Long.toHexString(address));
        }
        heap.verify();
    }
}
