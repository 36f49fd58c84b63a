package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link LargeSpanCache} on its own, with spans cut from a heap's page heap in state CACHED as a
 * large free leaves them: kept by length, last in first out, within its depth and its share of the
 * budget; frees counted; and all given back by a flush.
 */
class LargeSpanCacheTest {

    private static final long PAGE = Pages.SIZE;

    private final Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
    private final PageHeap pageHeap = heap.pageHeap();

    @AfterEach
    void close() {
        heap.close();
    }

    private int cachedSpan(int pages) {
        int span = pageHeap.allocate(pages, Pages.SIZE, SpanTable.CACHED);
        assertThat(span).isPositive();
        return span;
    }

    @Test
    void keepsSpansByLengthLastInFirstOut() {
        LargeSpanCache cache = new LargeSpanCache(new CacheBudget(32 << 20, 16 << 20), pageHeap);
        int first = cachedSpan(3);
        int second = cachedSpan(3);
        int other = cachedSpan(5);
        for (int span : new int[] {first, second, other}) {
            int pages = pageHeap.spans.pages(span);
            assertThat(cache.hasRoom(pages)).isTrue();
            cache.push(span, pages, true);
        }
        assertThat(cache.spanCount()).isEqualTo(3);
        assertThat(cache.cachedBytes()).isEqualTo(11 * PAGE);
        cache.verify();

        assertThat(cache.pop(4)).as("no span of that length").isZero();
        assertThat(cache.pop(3)).isEqualTo(second);
        assertThat(cache.pop(3)).isEqualTo(first);
        assertThat(cache.pop(3)).isZero();
        assertThat(cache.spanCount()).isEqualTo(1);
        assertThat(cache.cachedBytes()).isEqualTo(5 * PAGE);
        cache.verify();
        pageHeap.free(first);
        pageHeap.free(second);
        cache.flush();
        heap.verify();
    }

    @Test
    void refusesSpansPastItsLongestLengthAndDepth() {
        LargeSpanCache cache = new LargeSpanCache(new CacheBudget(64 << 20, 64 << 20), pageHeap);
        assertThat(cache.hasRoom(LargeSpanCache.MAX_PAGES + 1)).isFalse();
        assertThat(cache.pop(LargeSpanCache.MAX_PAGES + 1)).isZero();
        for (int i = 0; i < LargeSpanCache.DEPTH; i++) {
            assertThat(cache.hasRoom(2)).isTrue();
            cache.push(cachedSpan(2), 2, true);
        }
        assertThat(cache.hasRoom(2)).as("a full length").isFalse();
        assertThat(cache.hasRoom(1)).as("another length").isTrue();
        assertThat(cache.spanCount()).isEqualTo(LargeSpanCache.DEPTH);
        cache.verify();
        cache.flush();
        heap.verify();
    }

    /** A quarter of the per-cache budget, here 256 KiB: four spans of 64 KiB, not five. */
    @Test
    void keepsNoMoreThanItsShareOfTheBudget() {
        CacheBudget budget = new CacheBudget(32 << 20, 1 << 20);
        LargeSpanCache cache = new LargeSpanCache(budget, pageHeap);
        assertThat(LargeSpanCache.budgetCap(budget)).isEqualTo(256 << 10);
        int pages = (int) ((64 << 10) / PAGE);
        for (int i = 0; i < 4; i++) {
            assertThat(cache.hasRoom(pages)).isTrue();
            cache.push(cachedSpan(pages), pages, true);
        }
        assertThat(cache.hasRoom(pages)).isFalse();
        assertThat(cache.budgetBytes()).isEqualTo(256 << 10);
        assertThat(budget.granted()).isEqualTo(256 << 10);
        cache.verify();

        cache.flush();
        assertThat(cache.spanCount()).isZero();
        assertThat(cache.cachedBytes()).isZero();
        assertThat(cache.budgetBytes()).isZero();
        assertThat(budget.granted()).as("the budget given back").isZero();
        heap.verify();
    }

    /**
     * The longest length kept, 128 pages (1 MiB), is kept, counted, checked and flushed like the
     * others; the budget's quarter of a 4 MiB per-cache budget holds exactly one.
     */
    @Test
    void keepsSpansOfTheLongestLength() {
        CacheBudget budget = new CacheBudget(32 << 20, 4 << 20);
        LargeSpanCache cache = new LargeSpanCache(budget, pageHeap);
        int longest = LargeSpanCache.MAX_PAGES;
        int span = cachedSpan(longest);
        assertThat(cache.hasRoom(longest)).isTrue();
        cache.push(span, longest, true);
        assertThat(cache.spanCount()).isEqualTo(1);
        cache.verify();
        assertThat(cache.pop(longest)).isEqualTo(span);
        cache.push(span, longest, true);
        pageHeap.spans.setState(span, SpanTable.LARGE);
        assertThatThrownBy(cache::verify).as("the longest list is checked too").isInstanceOf(IllegalStateException.class);
        pageHeap.spans.setState(span, SpanTable.CACHED);
        int freePagesKept = pageHeap.counts().free();
        cache.flush();
        assertThat(pageHeap.counts().free()).isEqualTo(freePagesKept + longest);
        assertThat(budget.granted()).isZero();
        heap.verify();
    }

    /** Budget comes in what a span needs, at least a {@link CacheBudget#CHUNK}, and only when what it holds is short. */
    @Test
    void asksForWhatASpanNeedsAtLeastAChunk() {
        LargeSpanCache cache = new LargeSpanCache(new CacheBudget(32 << 20, 16 << 20), pageHeap);
        for (int i = 1; i <= 2; i++) {
            assertThat(cache.hasRoom(16)).isTrue();
            cache.push(cachedSpan(16), 16, true);
            assertThat(cache.budgetBytes()).as("two spans of 128 KiB").isEqualTo(i * 16 * PAGE);
        }
        for (int i = 1; i <= LargeSpanCache.DEPTH; i++) {
            assertThat(cache.hasRoom(1)).isTrue();
            cache.push(cachedSpan(1), 1, true);
            assertThat(cache.budgetBytes()).as("one chunk for eight pages, the eighth filling it exactly")
                    .isEqualTo(32 * PAGE + CacheBudget.CHUNK);
        }
        cache.verify();
        cache.flush();
        heap.verify();
    }

    /** Frees are counted when asked (not a sample's); spans go out uncounted, to samples only. */
    @Test
    void countsTheFreesItTakesInWhenAsked() {
        LargeSpanCache cache = new LargeSpanCache(new CacheBudget(32 << 20, 16 << 20), pageHeap);
        cache.hasRoom(4);
        cache.push(cachedSpan(4), 4, true);
        cache.hasRoom(2);
        cache.push(cachedSpan(2), 2, false);
        int popped = cache.pop(4);
        int other = cache.pop(2);
        long[] counts = {20, 200};
        cache.addFrees(counts);
        assertThat(counts).as("{frees, bytes}, added to what was there").containsExactly(21, 200 + 4 * PAGE);
        assertThat(cache.cachedBytes()).isZero();
        pageHeap.free(popped);
        pageHeap.free(other);
        cache.flush();
        heap.verify();
    }

    @Test
    void flushGivesEverySpanBackToThePageHeap() {
        LargeSpanCache cache = new LargeSpanCache(new CacheBudget(32 << 20, 16 << 20), pageHeap);
        for (int pages = 1; pages <= 4; pages++) {
            cache.hasRoom(pages);
            cache.push(cachedSpan(pages), pages, true);
        }
        int freePagesKept = pageHeap.counts().free();
        cache.flush();
        assertThat(pageHeap.counts().free()).as("the 10 pages kept").isEqualTo(freePagesKept + 10);
        heap.verify();
    }

    @Test
    void verifyFindsAKeptSpanThatIsNotCached() {
        LargeSpanCache cache = new LargeSpanCache(new CacheBudget(32 << 20, 16 << 20), pageHeap);
        int span = cachedSpan(3);
        cache.hasRoom(3);
        cache.push(span, 3, true);
        pageHeap.spans.setState(span, SpanTable.LARGE);
        assertThatThrownBy(cache::verify).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cached large span " + span + ": state " + SpanTable.LARGE);
        pageHeap.spans.setState(span, SpanTable.CACHED);
        cache.verify();
        cache.flush();
        heap.verify();
    }
}
