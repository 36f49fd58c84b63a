package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link SpanTable} on its own: ids are reused last destroyed first, and a reused record starts
 * clean. The page heap sets only the fields a span's kind needs, so a field left from the record's
 * last span would be read as this one's: a size class under a large span makes its state word
 * differ from its state, and the thread cache's compare-and-set that keeps a freed large span then
 * fails (PIT: a create that did not clear the record passed every allocator test).
 */
class SpanTableTest {

    private static final int MAX_SPANS = 4;

    private final Arena arena = Arena.ofConfined();
    private final SpanTable spans = new SpanTable(arena.allocate(SpanTable.bytesFor(MAX_SPANS), 8));

    @AfterEach
    void close() {
        arena.close();
    }

    /** Sets every field of record {@code id} to something other than zero. */
    private void dirty(int id) {
        spans.setSizeClass(id, 7);
        spans.setReleasedPages(id, 3);
        spans.setLeft(id, 2);
        spans.setRight(id, 3);
        spans.setObjects(id, 100);
        spans.setFreeObjects(id, 40);
        spans.setListNext(id, 2);
        spans.setListPrev(id, 3);
        for (int word = 0; word < SpanTable.BITMAP_WORDS; word++) {
            spans.setFreeBits(id, word, -1L);
        }
    }

    @Test
    void aReusedRecordStartsClean() {
        int first = spans.create(0, 4, SpanTable.SMALL);
        int second = spans.create(4, 2, SpanTable.FREE);
        dirty(first);
        spans.destroy(first);
        assertThat(spans.state(first)).isEqualTo(SpanTable.UNUSED);
        assertThat(spans.liveRecords()).isOne();

        int reused = spans.create(10, 8, SpanTable.LARGE);
        assertThat(reused).as("the id destroyed last").isEqualTo(first);
        assertThat(spans.start(reused)).isEqualTo(10);
        assertThat(spans.pages(reused)).isEqualTo(8);
        assertThat(spans.state(reused)).isEqualTo(SpanTable.LARGE);
        assertThat(spans.sizeClass(reused)).isZero();
        assertThat(spans.releasedPages(reused)).isZero();
        assertThat(spans.left(reused)).isZero();
        assertThat(spans.right(reused)).isZero();
        assertThat(spans.objects(reused)).isZero();
        assertThat(spans.freeObjects(reused)).isZero();
        assertThat(spans.listNext(reused)).isZero();
        assertThat(spans.listPrev(reused)).isZero();
        for (int word = 0; word < SpanTable.BITMAP_WORDS; word++) {
            assertThat(spans.freeBits(reused, word)).as("free bits word %d", word).isZero();
        }
        assertThat(spans.compareAndSetState(reused, SpanTable.LARGE, SpanTable.CACHED))
                .as("a large span's state word is its state").isTrue();
        assertThat(spans.liveRecords()).isEqualTo(2);
        assertThat(spans.highWater()).isEqualTo(3);
        assertThat(second).isEqualTo(2);
    }

    @Test
    void idsAreReusedLastDestroyedFirstAndTheTableHasItsSize() {
        int[] ids = new int[MAX_SPANS];
        for (int i = 0; i < MAX_SPANS; i++) {
            ids[i] = spans.create(i, 1, SpanTable.FREE);
        }
        assertThat(ids).containsExactly(1, 2, 3, 4);
        assertThatThrownBy(() -> spans.create(9, 1, SpanTable.FREE)).isInstanceOf(IllegalStateException.class)
                .hasMessage("span table full: 5 records");
        spans.destroy(2);
        spans.destroy(4);
        assertThat(spans.create(20, 1, SpanTable.FREE)).isEqualTo(4);
        assertThat(spans.create(21, 1, SpanTable.FREE)).isEqualTo(2);
        assertThat(spans.liveRecords()).isEqualTo(MAX_SPANS);
        assertThat(spans.highWater()).isEqualTo(MAX_SPANS + 1);
        assertThat(spans.footprintBytes()).isEqualTo((MAX_SPANS + 1) * SpanTable.RECORD_BYTES);
    }
}
