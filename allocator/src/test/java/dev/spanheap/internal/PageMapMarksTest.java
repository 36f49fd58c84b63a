package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Objects of a page or more carry their free mark in the page-map entry of the page they start in
 * ({@link PageMap#FREE_BIT}), not in a table of their own (see {@link FreeMarks} for why).
 */
class PageMapMarksTest {

    // No sampling: a sampled block gets a span of its own, outside the classes these tests follow.
    private final Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
    private final PageMap pageMap = heap.pageHeap().pageMap;

    @AfterEach
    void close() {
        heap.close();
    }

    private long entryOf(long address) {
        return pageMap.entry((int) ((address - heap.pageHeap().base()) >>> Pages.SHIFT));
    }

    /** The first byte of the small-object span that holds {@code block}. */
    private long spanBaseOf(long block) {
        return block - (entryOf(block) & PageMap.PAGE_OFFSET_MASK);
    }

    private static boolean marked(long entry) {
        return (entry & PageMap.FREE_BIT) != 0;
    }

    @Test
    void allocationClearsTheBitAndFreeSetsItLeavingTheRestOfTheEntry() {
        long address = heap.allocate(64 << 10, 1);
        long allocated = entryOf(address);
        assertThat(marked(allocated)).isFalse();
        assertThat(PageMap.sizeClass(allocated)).isEqualTo(SizeClassLookup.sizeClassOf(64 << 10));

        heap.free(address);
        assertThat(entryOf(address)).isEqualTo(allocated | PageMap.FREE_BIT);
        assertThatThrownBy(() -> heap.free(address)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free of 0x" + Long.toHexString(address));

        assertThat(heap.allocate(64 << 10, 1)).isEqualTo(address);
        assertThat(entryOf(address)).isEqualTo(allocated);
        heap.free(address);
        heap.verify();
    }

    @Test
    void aNewSpanMarksThePagesItsObjectsStartInAndNoOthers() {
        // 9000 bytes: the 9472-byte class, six objects to a span of seven pages; object i starts in
        // page floor(i * 9472 / 8192), so pages 0, 1, 2, 3, 4 and 5 start one and page 6 none.
        long first = heap.allocate(9000, 1);
        long spanBase = spanBaseOf(first);
        List<Boolean> marks = new ArrayList<>();
        for (int page = 0; page < 7; page++) {
            marks.add(marked(entryOf(spanBase + (long) page * Pages.SIZE)));
        }
        int allocatedPage = (int) ((first - spanBase) >>> Pages.SHIFT);
        List<Boolean> expected = new ArrayList<>(List.of(true, true, true, true, true, true, false));
        expected.set(allocatedPage, false);
        assertThat(marks).isEqualTo(expected);
        heap.free(first);
        heap.verify();
    }

    @Test
    void verifyRefusesAMarkOnAPageWhereNoObjectStarts() {
        long first = heap.allocate(9000, 1);
        long lastPage = spanBaseOf(first) + 6L * Pages.SIZE;
        long entryAddress = PageMap.entryAddress(heap.freeMarks().entryBias, lastPage);
        long entry = entryOf(lastPage);
        RawMemory.ALL.set(PageMap.ENTRY, entryAddress, entry | PageMap.FREE_BIT);
        try {
            assertThatThrownBy(heap::verify).hasMessageContaining("carries a free mark but starts no object");
        } finally {
            RawMemory.ALL.set(PageMap.ENTRY, entryAddress, entry);
        }
        heap.free(first);
        heap.verify();
    }

    @Test
    void neighbouringBlocksOfSixtyFourKiBHaveTheirMarksOnLinesOfTheirOwn() {
        // Two threads' blocks side by side would otherwise write one cache line on every allocate
        // and free (a table of one flag per page puts 64 pages' flags on one line).
        int c = SizeClassLookup.sizeClassOf(64 << 10);
        long a = heap.allocate(64 << 10, 1);
        for (long neighbour : new long[] {a - (64 << 10), a + (64 << 10)}) {
            assertThat(heap.freeMarks().flagAddress(neighbour, c) >>> 6).isNotEqualTo(heap.freeMarks().flagAddress(a, c) >>> 6);
        }
        heap.free(a);
        heap.verify();
    }

    @Test
    void aSmallSpanTooLongForThePageOffsetIsRefused() {
        assertThatThrownBy(() -> pageMap.setSmall(0, PageMap.MAX_SMALL_SPAN_PAGES + 1, 1, 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a small-object span of " + (PageMap.MAX_SMALL_SPAN_PAGES + 1) + " pages");
    }
}
