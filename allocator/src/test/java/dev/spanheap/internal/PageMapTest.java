package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link PageMap} on its own: what each kind of span writes into its entries, and the bounds every
 * write checks. A write past the map would land in whatever memory follows it, so the checks'
 * edges are pinned exactly (PIT found their boundaries unchecked).
 */
class PageMapTest {

    private static final int PAGES = 64;

    private final Arena arena = Arena.ofConfined();
    /** The map's memory with a guard word after it, which no write may reach. */
    private final MemorySegment memory = arena.allocate(PageMap.bytesFor(PAGES) + Long.BYTES, Long.BYTES);
    private final PageMap map = new PageMap(memory.asSlice(0, PageMap.bytesFor(PAGES)));

    @AfterEach
    void close() {
        arena.close();
    }

    private long guard() {
        return memory.get(PageMap.ENTRY, PageMap.bytesFor(PAGES));
    }

    @Test
    void aSmallObjectSpanMapsEveryPageWithItsClassAndIndex() {
        map.setSmall(10, 4, 77, 5);
        for (int i = 0; i < 4; i++) {
            long entry = map.entry(10 + i);
            assertThat(PageMap.span(entry)).isEqualTo(77);
            assertThat(PageMap.sizeClass(entry)).isEqualTo(5);
            assertThat(PageMap.pageInSpan(entry)).isEqualTo(i);
            assertThat(entry & PageMap.PAGE_OFFSET_MASK).isEqualTo((long) i * Pages.SIZE);
            assertThat(entry & PageMap.UNUSED_BITS).isZero();
        }
        assertThat(map.entry(9)).isZero();
        assertThat(map.entry(14)).isZero();
        // Back to the page heap: every page keeps the span but loses its class and index.
        map.setRange(10, 4, 77);
        for (int i = 0; i < 4; i++) {
            assertThat(map.entry(10 + i)).isEqualTo(77L << 32);
        }
    }

    @Test
    void otherSpansMapOnlyTheirEnds() {
        map.setSmall(20, 6, 3, 9);
        map.setEnds(20, 6, 41);
        assertThat(map.spanAt(20)).isEqualTo(41);
        assertThat(map.spanAt(25)).isEqualTo(41);
        assertThat(PageMap.sizeClass(map.entry(20))).isZero();
        assertThat(map.spanAt(22)).as("inside: left as it was").isEqualTo(3);
        map.setEnds(30, 1, 42);
        assertThat(map.entry(30)).isEqualTo(42L << 32);
    }

    @Test
    void stillMapsOnlyTheEntryThatWasRead() {
        map.setSmall(5, 2, 8, 3);
        long offset = 6L * Pages.SIZE + 100;
        long entry = PageMap.entryAt(map.address(), offset);
        assertThat(entry).isEqualTo(map.entry(6));
        assertThat(map.stillMaps(offset, entry)).isTrue();
        map.setRange(5, 2, 8);
        assertThat(map.stillMaps(offset, entry)).isFalse();
    }

    @Test
    void rangesUpToTheMapsEndAreWrittenAndNoneBeyond() {
        map.setRange(0, PAGES, 1);
        map.setEnds(PAGES - 3, 3, 2);
        map.setSmall(PAGES - 2, 2, 3, 4);
        assertThat(map.spanAt(PAGES - 1)).isEqualTo(3);
        assertThat(guard()).isZero();

        assertThatThrownBy(() -> map.setRange(PAGES - 2, 3, 5)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("pages 62+3 are outside the page map");
        assertThatThrownBy(() -> map.setEnds(PAGES, 1, 5)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("pages 64+1 are outside the page map");
        assertThatThrownBy(() -> map.setRange(-1, 2, 5)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("pages -1+2 are outside the page map");
        assertThatThrownBy(() -> map.setEnds(3, 0, 5)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("pages 3+0 are outside the page map");
        assertThat(map.spanAt(0)).as("a refused range writes nothing").isEqualTo(1);
        assertThat(map.spanAt(PAGES - 3)).isEqualTo(2);
        // A small-object span is written page by page and stops at the first page past the map.
        assertThatThrownBy(() -> map.setSmall(PAGES - 1, 2, 6, 7)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("page 64 is outside the page map");
        assertThat(guard()).as("the word after the map").isZero();
    }

    @Test
    void aSmallObjectSpanHasAtMostTheIndexBitsPages() {
        int most = PageMap.MAX_SMALL_SPAN_PAGES;
        try (Arena large = Arena.ofConfined()) {
            PageMap wide = new PageMap(large.allocate(PageMap.bytesFor(most + 1), Long.BYTES));
            wide.setSmall(0, most, 9, 2);
            assertThat(PageMap.pageInSpan(wide.entry(most - 1))).isEqualTo(most - 1);
            assertThat(PageMap.span(wide.entry(most - 1))).as("the index stays clear of the span id").isEqualTo(9);
            assertThatThrownBy(() -> wide.setSmall(0, most + 1, 9, 2)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("a small-object span of " + (most + 1) + " pages");
        }
    }
}
