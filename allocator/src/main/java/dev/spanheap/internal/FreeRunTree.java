package dev.spanheap.internal;

import java.util.Arrays;
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
 *
 * <p>Insert and remove work top-down in loops (a split and a merge along one path), not by
 * recursion: their stack use does not grow with the tree's depth, so the stack check before a
 * page-heap update (see StackHeadroom) covers them. The recursive version, at 14 levels in
 * StackOverflowTest, outran that check in C1-compiled code, and a StackOverflowError halfway
 * through an insert left a free run out of the tree.
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
        int priority = spans.priority(id);
        // Down the search path while the nodes outrank the new one (a max-heap on priority; among
        // equals the newer goes below), then split what is left around it.
        int parent = 0;
        boolean parentLeft = false;
        int node = root;
        while (node != 0 && spans.priority(node) >= priority) {
            parent = node;
            parentLeft = before(id, node);
            node = parentLeft ? spans.left(node) : spans.right(node);
        }
        link(parent, parentLeft, id);
        // Split the subtree at node: the runs ordered before id become its left subtree, the others
        // its right; each side is filled through its one open link (owner, side).
        int leftOwner = id;
        boolean leftSide = true;
        int rightOwner = id;
        boolean rightSide = false;
        while (node != 0) {
            if (before(node, id)) {
                link(leftOwner, leftSide, node);
                leftOwner = node;
                leftSide = false;
                node = spans.right(node);
            } else {
                link(rightOwner, rightSide, node);
                rightOwner = node;
                rightSide = true;
                node = spans.left(node);
            }
        }
        link(leftOwner, leftSide, 0);
        link(rightOwner, rightSide, 0);
        size++;
    }

    void remove(int id) {
        int parent = 0;
        boolean parentLeft = false;
        int node = root;
        while (node != id) {
            if (node == 0) {
                throw new IllegalStateException("span " + id + " is not in the free-run tree");
            }
            parent = node;
            parentLeft = before(id, node);
            node = parentLeft ? spans.left(node) : spans.right(node);
        }
        // Merge its subtrees into its place: all of the left one is ordered before the right one,
        // and the higher priority of the two tops goes up each step.
        int a = spans.left(id);
        int b = spans.right(id);
        int owner = parent;
        boolean side = parentLeft;
        while (a != 0 && b != 0) {
            if (spans.priority(a) > spans.priority(b)) {
                link(owner, side, a);
                owner = a;
                side = false;
                a = spans.right(a);
            } else {
                link(owner, side, b);
                owner = b;
                side = true;
                b = spans.left(b);
            }
        }
        link(owner, side, a != 0 ? a : b);
        size--;
    }

    /** Makes {@code child} the root (owner 0) or the left or right child of {@code owner}. */
    private void link(int owner, boolean left, int child) {
        if (owner == 0) {
            root = child;
        } else if (left) {
            spans.setLeft(owner, child);
        } else {
            spans.setRight(owner, child);
        }
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

    /**
     * Visits every run, shortest first. With a path of its own rather than recursion, like insert
     * and remove: a release plans with this walk inside a free, under that free's stack check.
     */
    void forEach(IntConsumer action) {
        int[] path = new int[64];
        int depth = 0;
        int node = root;
        while (node != 0 || depth > 0) {
            while (node != 0) {
                if (depth == path.length) {
                    path = Arrays.copyOf(path, depth * 2);
                }
                path[depth++] = node;
                node = spans.left(node);
            }
            node = path[--depth];
            action.accept(node);
            node = spans.right(node);
        }
    }

    private boolean before(int a, int b) {
        int pagesA = spans.pages(a);
        int pagesB = spans.pages(b);
        return pagesA != pagesB ? pagesA < pagesB : spans.start(a) < spans.start(b);
    }
}
