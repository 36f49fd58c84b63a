package dev.spanheap.internal;

import java.util.function.IntConsumer;

/**
 * All free runs of the page heap: runs shorter than {@link #LISTED_PAGES} pages in one doubly linked
 * list per exact length, longer runs in a {@link FreeRunTree} (TCMalloc's classic page heap).
 *
 * <p>Why: with thousands of fragments, a balanced tree costs ~30 scattered record reads per insert
 * or remove, and measured, the tree took most of a large allocate+free pair. Short runs are
 * the common case, and an exact-length list makes them O(1): best fit is the first non-empty length
 * at or above the request, found in a 128-bit mask. Within one length the most recently freed run
 * comes first (its pages are the likeliest to be resident and cached); the tree, for long runs,
 * picks the lowest address among equals.
 *
 * <p>Listed runs are linked through the span records' {@code listNext}/{@code listPrev} fields,
 * which only small-object spans use otherwise. Guarded by the page heap's lock.
 */
final class FreeRuns {

    static final int LISTED_PAGES = 128;

    private final SpanTable spans;
    private final FreeRunTree tree;
    private final int[] heads = new int[LISTED_PAGES];
    /** Bit n set when the list of runs of n pages is not empty. */
    private final long[] nonEmpty = new long[LISTED_PAGES / 64];
    private int listed;

    FreeRuns(SpanTable spans) {
        this.spans = spans;
        this.tree = new FreeRunTree(spans);
    }

    int size() {
        return listed + tree.size();
    }

    void insert(int id) {
        int pages = spans.pages(id);
        if (pages >= LISTED_PAGES) {
            tree.insert(id);
            return;
        }
        int head = heads[pages];
        spans.setListPrev(id, 0);
        spans.setListNext(id, head);
        if (head != 0) {
            spans.setListPrev(head, id);
        }
        heads[pages] = id;
        nonEmpty[pages >>> 6] |= 1L << pages;
        listed++;
    }

    void remove(int id) {
        int pages = spans.pages(id);
        if (pages >= LISTED_PAGES) {
            tree.remove(id);
            return;
        }
        int prev = spans.listPrev(id);
        int next = spans.listNext(id);
        if (prev != 0) {
            spans.setListNext(prev, next);
        } else {
            heads[pages] = next;
            if (next == 0) {
                nonEmpty[pages >>> 6] &= ~(1L << pages);
            }
        }
        if (next != 0) {
            spans.setListPrev(next, prev);
        }
        listed--;
    }

    /** The best-fitting run of at least {@code pages} pages, or 0 if there is none. */
    int bestFit(int pages) {
        for (int word = pages >>> 6; pages < LISTED_PAGES && word < nonEmpty.length; word++) {
            long bits = nonEmpty[word] & (-1L << (pages & 63));
            if (bits != 0) {
                return heads[(word << 6) + Long.numberOfTrailingZeros(bits)];
            }
            pages = (word + 1) << 6;
        }
        return tree.bestFit(pages);
    }

    /** Visits every run: listed runs by length, then the tree's, shortest first. */
    void forEach(IntConsumer action) {
        for (int pages = 1; pages < LISTED_PAGES; pages++) {
            for (int id = heads[pages]; id != 0; id = spans.listNext(id)) {
                action.accept(id);
            }
        }
        tree.forEach(action);
    }

    /** Checks lengths, links and masks of the lists and the order of the tree. */
    void verify() {
        int counted = 0;
        for (int pages = 1; pages < LISTED_PAGES; pages++) {
            int previous = 0;
            for (int id = heads[pages]; id != 0; id = spans.listNext(id)) {
                Invariants.check(spans.pages(id) == pages, "run %d of %d pages is in the list of %d", id,
                        spans.pages(id), pages);
                Invariants.check(spans.listPrev(id) == previous, "run %d has a broken back link", id);
                previous = id;
                counted++;
            }
            boolean marked = (nonEmpty[pages >>> 6] & (1L << pages)) != 0;
            Invariants.check(marked == (heads[pages] != 0), "mask of %d-page runs is wrong", pages);
        }
        Invariants.check(counted == listed, "lists hold %d runs, counted %d", listed, counted);
        int[] previous = {0};
        tree.forEach(id -> {
            Invariants.check(spans.pages(id) >= LISTED_PAGES, "tree holds a %d-page run", spans.pages(id));
            int last = previous[0];
            if (last != 0) {
                boolean ordered = spans.pages(last) < spans.pages(id)
                        || (spans.pages(last) == spans.pages(id) && spans.start(last) < spans.start(id));
                Invariants.check(ordered, "tree out of order at span %d", id);
            }
            previous[0] = id;
        });
    }
}
