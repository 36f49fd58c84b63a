package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The free-run treap against a sorted map keyed by (length, start page): random inserts and removes,
 * with the order, best fit, and the treap's own shape (search order, heap order on priority) checked
 * after every step.
 */
class FreeRunTreeTest {

    private static final int MAX_RUNS = 4096;

    @Test
    void matchesASortedSetUnderRandomInsertsAndRemoves() {
        try (Arena arena = Arena.ofConfined()) {
            SpanTable spans = new SpanTable(arena.allocate(SpanTable.bytesFor(MAX_RUNS), 8));
            FreeRunTree tree = new FreeRunTree(spans);
            // Keyed by (length, start page), the tree's order.
            TreeMap<Long, Integer> model = new TreeMap<>();
            SplittableRandom random = new SplittableRandom(42);
            int nextStart = 0;
            for (int step = 0; step < 20_000; step++) {
                if (model.isEmpty() || (model.size() < MAX_RUNS - 1 && random.nextInt(100) < 55)) {
                    // Few distinct lengths, so that runs of equal length are ordered by start.
                    int pages = 1 + random.nextInt(random.nextBoolean() ? 4 : 300);
                    int id = spans.create(nextStart, pages, SpanTable.FREE);
                    nextStart += pages + 1;
                    tree.insert(id);
                    model.put(key(pages, spans.start(id)), id);
                } else {
                    List<Long> keys = new ArrayList<>(model.keySet());
                    int id = model.remove(keys.get(random.nextInt(keys.size())));
                    tree.remove(id);
                    spans.destroy(id);
                }
                assertThat(tree.size()).isEqualTo(model.size());
                List<Integer> visited = new ArrayList<>();
                tree.forEach(visited::add);
                assertThat(visited).containsExactlyElementsOf(model.values());
                int want = 1 + random.nextInt(320);
                Map.Entry<Long, Integer> fit = model.ceilingEntry(key(want, 0));
                assertThat(tree.bestFit(want)).as("best fit for %d pages", want)
                        .isEqualTo(fit == null ? 0 : fit.getValue());
                if (step % 100 == 0) {
                    checkShape(spans, visited);
                }
            }
        }
    }

    @Test
    void removingARunThatIsNotThereIsRefused() {
        try (Arena arena = Arena.ofConfined()) {
            SpanTable spans = new SpanTable(arena.allocate(SpanTable.bytesFor(8), 8));
            FreeRunTree tree = new FreeRunTree(spans);
            int inTree = spans.create(0, 10, SpanTable.FREE);
            int notInTree = spans.create(20, 12, SpanTable.FREE);
            tree.insert(inTree);
            assertThatThrownBy(() -> tree.remove(notInTree))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("span " + notInTree + " is not in the free-run tree");
        }
    }

    private static long key(int pages, int start) {
        return (long) pages << 32 | start;
    }

    /** Every node: its children on the right sides in search order, and no child outranking it. */
    private static void checkShape(SpanTable spans, List<Integer> inOrder) {
        for (int id : inOrder) {
            int left = spans.left(id);
            int right = spans.right(id);
            if (left != 0) {
                assertThat(inOrder.indexOf(left)).isLessThan(inOrder.indexOf(id));
                assertThat(spans.priority(left)).isLessThanOrEqualTo(spans.priority(id));
            }
            if (right != 0) {
                assertThat(inOrder.indexOf(right)).isGreaterThan(inOrder.indexOf(id));
                assertThat(spans.priority(right)).isLessThanOrEqualTo(spans.priority(id));
            }
        }
    }
}
