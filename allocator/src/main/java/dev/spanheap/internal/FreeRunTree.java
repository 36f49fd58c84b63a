package dev.spanheap.internal;

import java.util.function.IntConsumer;

/**
 * The page heap's long free runs, ordered by (length, start page): a treap threaded through the
 * span records' {@code left}, {@code right} and {@code priority} fields, so it allocates nothing.
 * Runs shorter than {@link FreeRuns}' exact-length lists cover live in those lists instead (TCMalloc's
 * split); this tree holds the rest, which are few.
 *
 * <p>Why a treap for them: allocation needs "the shortest free run of at least n pages, lowest
 * address among equals" (best fit, address-ordered, which keeps the heap compact and leaves high
 * addresses free for the scavenger), and free needs removal of arbitrary neighbours when coalescing.
 * A balanced search tree gives both in O(log n) expected time for any number of runs; Go's radix
 * tree of bitmap summaries would cost memory proportional to the whole address space. Guarded by
 * the page heap's lock.
 */
final class FreeRunTree {

    private final SpanTable spans;
    private int root;
    private int size;

    FreeRunTree(SpanTable spans) {
        this.spans = spans;
    }

    int size() {
        return size;
    }

    void insert(int id) {
        spans.setLeft(id, 0);
        spans.setRight(id, 0);
        root = insert(root, id);
        size++;
    }

    void remove(int id) {
        root = remove(root, id);
        size--;
    }

    /** The best-fitting run of at least {@code pages} pages, or 0 if there is none. */
    int bestFit(int pages) {
        int node = root;
        int best = 0;
        while (node != 0) {
            if (spans.pages(node) >= pages) {
                best = node;
                node = spans.left(node);
            } else {
                node = spans.right(node);
            }
        }
        return best;
    }

    /** Visits every run, shortest first. */
    void forEach(IntConsumer action) {
        forEach(root, action);
    }

    private void forEach(int node, IntConsumer action) {
        while (node != 0) {
            forEach(spans.left(node), action);
            action.accept(node);
            node = spans.right(node);
        }
    }

    private boolean before(int a, int b) {
        int pagesA = spans.pages(a);
        int pagesB = spans.pages(b);
        return pagesA != pagesB ? pagesA < pagesB : spans.start(a) < spans.start(b);
    }

    private int insert(int node, int id) {
        if (node == 0) {
            return id;
        }
        if (before(id, node)) {
            spans.setLeft(node, insert(spans.left(node), id));
            if (spans.priority(spans.left(node)) > spans.priority(node)) {
                node = rotateRight(node);
            }
        } else {
            spans.setRight(node, insert(spans.right(node), id));
            if (spans.priority(spans.right(node)) > spans.priority(node)) {
                node = rotateLeft(node);
            }
        }
        return node;
    }

    private int remove(int node, int id) {
        if (node == 0) {
            throw new IllegalStateException("span " + id + " is not in the free-run tree");
        }
        if (node == id) {
            return merge(spans.left(node), spans.right(node));
        }
        if (before(id, node)) {
            spans.setLeft(node, remove(spans.left(node), id));
        } else {
            spans.setRight(node, remove(spans.right(node), id));
        }
        return node;
    }

    private int merge(int a, int b) {
        if (a == 0) {
            return b;
        }
        if (b == 0) {
            return a;
        }
        if (spans.priority(a) > spans.priority(b)) {
            spans.setRight(a, merge(spans.right(a), b));
            return a;
        }
        spans.setLeft(b, merge(a, spans.left(b)));
        return b;
    }

    private int rotateRight(int node) {
        int pivot = spans.left(node);
        spans.setLeft(node, spans.right(pivot));
        spans.setRight(pivot, node);
        return pivot;
    }

    private int rotateLeft(int node) {
        int pivot = spans.right(node);
        spans.setRight(node, spans.left(pivot));
        spans.setLeft(pivot, node);
        return pivot;
    }
}
