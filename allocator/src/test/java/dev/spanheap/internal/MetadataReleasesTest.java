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
 * page-map entries inside a free run read 0 afterwards, as do those inside a large block carved
 * from such pages, and every check that reads them still tells a double free, an address in free
 * pages and a pointer into a live block apart.
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
        // Carved from pages the heap had just grown over: only its ends are written (and those of
        // the growths' runs it was carved from lie inside it).
        assertThat(zeroEntries(heap, start, start + pages)).isGreaterThanOrEqualTo(pages - 6);
        assertThat(heap.pageMap.spanAt(start)).isEqualTo(big);
        assertThat(heap.pageMap.spanAt(start + pages - 1)).isEqualTo(big);
        assertThat(heap.spanCoveringLocked(start + pages / 2)).isEqualTo(big);

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
        assertThat(heap.pageMap.spanAt(carvedStart)).isEqualTo(carved);
        assertThat(heap.pageMap.spanAt(carvedStart + pages / 2 + 2)).isEqualTo(carved);
        for (int page = carvedStart; page < carvedStart + pages / 2 + 3; page += 97) {
            assertThat(heap.spanCoveringLocked(page)).as("page %d", page).isEqualTo(carved);
        }
        heap.free(carved);
        heap.free(before);
        heap.free(after);
        heap.verify();
        assertThat(heap.describe()).doesNotContain("L");
    }

    /**
     * Runs whose ends' entries sit at the edges of metadata pages: the page of entries just inside
     * the run is whole only with an end's entry, so it must stay. The page map starts
     * {@link AddressSpace#PAGE_MAP_SKEW} bytes into its mapping, so metadata pages begin at entry
     * 767 and every 1024 after. Run A starts on such an entry, run B's last entry ends such a page.
     * (PIT: a plan reaching one entry further either way passed the tests above, whose runs' ends
     * fall inside metadata pages.)
     */
    @Test
    void aReleasedRunWhoseEndsAreOnMetadataPageEdgesKeepsThem() {
        PageHeap heap = pageHeap(1L << 30);
        int edge = (int) ((ENTRIES_PER_METADATA_PAGE - AddressSpace.PAGE_MAP_SKEW / Long.BYTES) % ENTRIES_PER_METADATA_PAGE);
        assertThat(edge).isEqualTo(767);
        int startA = edge;
        int endA = edge + ENTRIES_PER_METADATA_PAGE + 1;
        int startB = edge + 2 * ENTRIES_PER_METADATA_PAGE - 1;
        int endB = edge + 3 * ENTRIES_PER_METADATA_PAGE;
        int[] layout = {startA, endA - startA, 1, startB - endA - 1, endB - startB, 1};
        int[] spans = new int[layout.length];
        int next = 0;
        for (int i = 0; i < layout.length; i++) {
            spans[i] = heap.allocate(layout[i], Pages.SIZE, SpanTable.LARGE);
            assertThat(heap.spans.start(spans[i])).as("span %d", i).isEqualTo(next);
            next += layout[i];
        }

        heap.free(spans[1]);
        heap.free(spans[4]);
        heap.release(Long.MAX_VALUE);
        heap.verify();
        for (int[] run : new int[][] {{startA, endA}, {startB, endB}}) {
            int id = heap.pageMap.spanAt(run[0]);
            assertThat(heap.spans.state(id)).as("run at %d", run[0]).isEqualTo(SpanTable.FREE);
            assertThat(heap.spans.start(id)).isEqualTo(run[0]);
            assertThat(heap.spans.pages(id)).isEqualTo(run[1] - run[0]);
            assertThat(heap.pageMap.spanAt(run[1] - 1)).as("the last page of the run at %d", run[0]).isEqualTo(id);
        }
        for (int i : new int[] {0, 2, 3, 5}) {
            heap.free(spans[i]);
        }
        heap.verify();
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
        assertThat(zeroEntries(heap, tail + 2, committed - 1)).isGreaterThanOrEqualTo(committed - 1 - (tail + 2) - 2);
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
    void aPointerIntoALargeBlockWhoseInsideIsUnmappedIsRefusedAsOne() {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        toClose.add(heap::close);
        long size = 256L << 20;
        long block = heap.allocate(size, 1);
        long inside = block + size / 2;
        assertThat(heap.pageHeap().pageMap.entry((int) ((inside - heap.base()) >>> Pages.SHIFT))).isZero();
        assertThatThrownBy(() -> heap.free(inside)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("0x%x points inside a %d-byte block, not at its start", inside, size);
        assertThatThrownBy(() -> heap.usableSize(inside)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("0x%x points inside a %d-byte block, not at its start", inside, size);
        assertThat(heap.usableSize(block)).isEqualTo(size);
        heap.free(block);
        heap.verify();
    }

    /**
     * Entries inside large blocks and free runs may name any span, a destroyed or reused one among
     * them (see PageMap): seeded random large and small blocks, frees and releases, and after each
     * step a free of a page inside a live large block must name that block, and one of a page in no
     * live block must never claim to point inside one.
     */
    @Test
    void aFreeInsideALargeBlockOrAFreeRunNamesWhatCoversIt() {
        for (long seed = 1; seed <= 4; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
            toClose.add(heap::close);
            java.util.TreeMap<Long, Long> live = new java.util.TreeMap<>();
            int staleEntries = 0;
            List<Long> smallBlocks = new ArrayList<>();
            for (int step = 0; step < 400; step++) {
                int choice = random.nextInt(10);
                if (choice < 4 || live.isEmpty()) {
                    long size = (2L << 20) + random.nextLong(62L << 20);
                    live.put(heap.allocate(size, 1), size);
                } else if (choice < 6) {
                    smallBlocks.add(heap.allocate(1024 + random.nextInt(60 << 10), 1));
                    if (smallBlocks.size() > 200) {
                        heap.free(smallBlocks.remove(random.nextInt(smallBlocks.size())));
                    }
                } else if (choice < 9) {
                    Long victim = new ArrayList<>(live.keySet()).get(random.nextInt(live.size()));
                    live.remove(victim);
                    heap.free(victim);
                } else {
                    heap.releaseMemory();
                }
                String at = "seed " + seed + " step " + step;
                if (!live.isEmpty()) {
                    var block = new ArrayList<>(live.entrySet()).get(random.nextInt(live.size()));
                    long usable = heap.usableSize(block.getKey());
                    List<Long> probes = new ArrayList<>();
                    probes.add(block.getKey() + Pages.SIZE * (1 + random.nextLong(usable / Pages.SIZE - 1)));
                    // And the pages inside it whose entries name another span: the ends of spans that
                    // covered them before, perhaps destroyed or reused since.
                    int first = (int) ((block.getKey() - heap.base()) >>> Pages.SHIFT);
                    int own = heap.pageHeap().pageMap.spanAt(first);
                    for (int p = first + 1; p < first + usable / Pages.SIZE && probes.size() < 8; p++) {
                        int named = heap.pageHeap().pageMap.spanAt(p);
                        if (named != 0 && named != own) {
                            probes.add(heap.base() + ((long) p << Pages.SHIFT));
                            staleEntries++;
                        }
                    }
                    for (long inside : probes) {
                        assertThatThrownBy(() -> heap.free(inside)).as(at).isInstanceOf(IllegalArgumentException.class)
                                .hasMessage("0x%x points inside a %d-byte block, not at its start", inside, usable);
                    }
                }
                long page = heap.base() + Pages.SIZE * random.nextLong(heap.pageHeap().committedBytes() / Pages.SIZE);
                var below = live.floorEntry(page);
                boolean inLive = below != null && page < below.getKey() + heap.usableSize(below.getKey());
                boolean inSmall = PageMap.sizeClass(heap.pageHeap().pageMap.entry((int) ((page - heap.base()) >>> Pages.SHIFT))) != 0;
                if (!inLive && !inSmall) {
                    assertThatThrownBy(() -> heap.free(page)).as(at).isInstanceOf(RuntimeException.class)
                            .satisfies(e -> assertThat(e.getMessage()).as(at).doesNotContain("points inside"));
                }
                heap.verify();
            }
            assertThat(staleEntries).as("seed %d: pages inside live blocks whose entries named another span", seed)
                    .isPositive();
        }
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
