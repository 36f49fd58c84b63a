package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Objects of a page or more carry their free mark in the flag table, as objects of 128 B or more
 * do, and their page-map entries carry only span, class and page (see {@link FreeMarks} for why).
 */
class PageObjectFlagsTest {

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

    private byte flagOf(long address) {
        return RawMemory.ALL.get(FreeMarks.FLAG, heap.freeMarks().flagAddress(address));
    }

    @Test
    void allocationClearsTheFlagAndFreeSetsItLeavingTheEntryAlone() {
        long address = heap.allocate(64 << 10, 1);
        long entry = entryOf(address);
        assertThat(flagOf(address)).isEqualTo(FreeMarks.ALLOCATED);
        assertThat(PageMap.sizeClass(entry)).isEqualTo(SizeClassLookup.sizeClassOf(64 << 10));

        heap.free(address);
        assertThat(flagOf(address)).isEqualTo(FreeMarks.FREE);
        assertThat(entryOf(address)).isEqualTo(entry);
        assertThatThrownBy(() -> heap.free(address)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free of 0x" + Long.toHexString(address));

        assertThat(heap.allocate(64 << 10, 1)).isEqualTo(address);
        assertThat(flagOf(address)).isEqualTo(FreeMarks.ALLOCATED);
        heap.free(address);
        heap.verify();
    }

    /**
     * Marking a new span's objects free marks exactly its objects: the first byte past them may be
     * another span's live object, which a mark there would make a refused "double free". Checked
     * for a flagged class and a cookie class, on memory of a live large block.
     */
    @Test
    void markingASpanFreeMarksItsObjectsAndNothingPastThem() {
        FreeMarks marks = heap.freeMarks();
        long block = heap.allocate(2 << 20, 1);
        for (long size : new long[] {256, 16}) {
            int c = SizeClassLookup.sizeClassOf(size);
            long spanBase = block + (size == 256 ? 0 : 1 << 20);
            // A fresh flag reads free (0), as a fresh word reads no cookie: set the one past them.
            marks.markAllocated(spanBase + 4 * size, c);
            marks.markSpanFree(spanBase, c, 4);
            for (int i = 0; i < 4; i++) {
                assertThat(marks.isFree(spanBase + i * size, c)).as("%d-byte object %d", size, i).isTrue();
            }
            assertThat(marks.isFree(spanBase + 4 * size, c)).as("past the %d-byte objects", size).isFalse();
            for (int i = 0; i < 4; i++) {
                marks.markAllocated(spanBase + i * size, c);
            }
        }
        heap.free(block);
        heap.verify();
    }

    @Test
    void aNewSpanFlagsEachObjectFreeAndItsEntriesHoldOnlySpanClassAndPage() {
        // 9000 bytes: the 9472-byte class, six objects to a span of seven pages.
        int c = SizeClassLookup.sizeClassOf(9000);
        long first = heap.allocate(9000, 1);
        long spanBase = spanBaseOf(first);
        List<Byte> flags = new ArrayList<>();
        List<Byte> expected = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            long object = spanBase + (long) i * SizeClasses.SIZE[c];
            flags.add(flagOf(object));
            expected.add(object == first ? FreeMarks.ALLOCATED : FreeMarks.FREE);
        }
        assertThat(flags).isEqualTo(expected);
        int span = PageMap.span(entryOf(spanBase));
        for (int page = 0; page < 7; page++) {
            assertThat(entryOf(spanBase + (long) page * Pages.SIZE))
                    .isEqualTo(((long) span << 32) | ((long) page << Pages.SHIFT) | c);
        }
        heap.free(first);
        heap.verify();
    }

    @Test
    void verifyRefusesAnEntryWithBitsOutsideItsFields() {
        // Where the mark of a block of a page or more used to be: no code writes it any more.
        long first = heap.allocate(9000, 1);
        long page = spanBaseOf(first) + 6L * Pages.SIZE;
        long entryAddress = pageMap.address() + ((page - heap.pageHeap().base()) >>> Pages.SHIFT) * 8;
        long entry = entryOf(page);
        RawMemory.ALL.set(PageMap.ENTRY, entryAddress, entry | (1L << PageMap.CLASS_BITS));
        try {
            assertThatThrownBy(heap::verify).hasMessageContaining("has an entry with bits outside its fields");
        } finally {
            RawMemory.ALL.set(PageMap.ENTRY, entryAddress, entry);
        }
        heap.free(first);
        heap.verify();
    }

    @Test
    void neighbouringBlocksOfSixtyFourKiBHaveTheirFlagsOnLinesOfTheirOwn() {
        // Two threads' blocks side by side would otherwise write one cache line on every allocate
        // and free (a table of one flag per page puts 64 pages' flags on one line).
        long a = heap.allocate(64 << 10, 1);
        for (long neighbour : new long[] {a - (64 << 10), a + (64 << 10)}) {
            assertThat(heap.freeMarks().flagAddress(neighbour) >>> 6).isNotEqualTo(heap.freeMarks().flagAddress(a) >>> 6);
        }
        heap.free(a);
        heap.verify();
    }

    @Test
    void aSmallSpanTooLongForThePageOffsetIsRefused() {
        assertThatThrownBy(() -> pageMap.setSmall(0, PageMap.MAX_SMALL_SPAN_PAGES + 1, 1, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a small-object span of " + (PageMap.MAX_SMALL_SPAN_PAGES + 1) + " pages");
    }
}
