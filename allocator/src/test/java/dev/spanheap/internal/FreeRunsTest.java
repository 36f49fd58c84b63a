package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The page heap's free runs (exact-length lists below {@link FreeRuns#LISTED_PAGES} pages, the tree
 * above) against a model: per length, a stack of runs (the most recently freed first); above the
 * lists, a map ordered by (length, start page). Random inserts and removes, with best fit for random
 * requests, the visiting order and {@link FreeRuns#verify()} checked after every step.
 */
class FreeRunsTest {

    private static final int MAX_RUNS = 4096;

    private final Arena arena = Arena.ofConfined();
    private final SpanTable spans = new SpanTable(arena.allocate(SpanTable.bytesFor(MAX_RUNS), 8));
    private final FreeRuns runs = new FreeRuns(spans);

    @AfterEach
    void close() {
        arena.close();
    }

    @Test
    void bestFitIsTheNewestRunOfTheShortestListedLengthElseTheTreesBest() {
        Map<Integer, Deque<Integer>> listed = new HashMap<>();
        TreeMap<Long, Integer> long_ = new TreeMap<>();
        List<Integer> live = new ArrayList<>();
        SplittableRandom random = new SplittableRandom(7);
        int nextStart = 0;
        for (int step = 0; step < 20_000; step++) {
            if (live.isEmpty() || (live.size() < MAX_RUNS - 1 && random.nextInt(100) < 55)) {
                int pages = randomLength(random);
                int id = spans.create(nextStart, pages, SpanTable.FREE);
                nextStart += pages + 1;
                runs.insert(id);
                live.add(id);
                if (pages < FreeRuns.LISTED_PAGES) {
                    listed.computeIfAbsent(pages, p -> new ArrayDeque<>()).push(id);
                } else {
                    long_.put(key(pages, spans.start(id)), id);
                }
            } else {
                int id = live.remove(random.nextInt(live.size()));
                int pages = spans.pages(id);
                if (pages < FreeRuns.LISTED_PAGES) {
                    listed.get(pages).remove(id);
                } else {
                    long_.remove(key(pages, spans.start(id)));
                }
                runs.remove(id);
                spans.destroy(id);
            }
            assertThat(runs.size()).isEqualTo(live.size());
            int want = randomLength(random);
            assertThat(runs.bestFit(want)).as("best fit for %d pages at step %d", want, step)
                    .isEqualTo(modelBestFit(listed, long_, want));
            if (step % 50 == 0) {
                runs.verify();
                List<Integer> visited = new ArrayList<>();
                runs.forEach(visited::add);
                assertThat(visited).containsExactlyElementsOf(modelOrder(listed, long_));
            }
        }
    }

    @Test
    void aRunRemovedAndInsertedAgainKeepsNoLinkFromBefore() {
        int older = spans.create(0, 3, SpanTable.FREE);
        int newer = spans.create(10, 3, SpanTable.FREE);
        runs.insert(older);
        runs.insert(newer);
        // The page heap takes a run out and puts it back (a release, a merge) without clearing
        // its record: its old back link must not survive.
        runs.remove(older);
        runs.insert(older);
        runs.verify();
        assertThat(runs.bestFit(3)).isEqualTo(older);
        runs.remove(older);
        assertThat(runs.bestFit(1)).isEqualTo(newer);
        runs.verify();
    }

    @Test
    void verifyFindsABrokenBackLink() {
        int older = spans.create(0, 3, SpanTable.FREE);
        int newer = spans.create(10, 3, SpanTable.FREE);
        runs.insert(older);
        runs.insert(newer);
        assertThatCode(runs::verify).doesNotThrowAnyException();
        spans.setListPrev(older, 0);
        assertThatThrownBy(runs::verify).isInstanceOf(IllegalStateException.class)
                .hasMessage("heap invariant broken: run " + older + " has a broken back link");
    }

    @Test
    void verifyFindsARunInTheWrongList() {
        int run = spans.create(0, 3, SpanTable.FREE);
        runs.insert(run);
        spans.setPages(run, 4);
        assertThatThrownBy(runs::verify).isInstanceOf(IllegalStateException.class)
                .hasMessage("heap invariant broken: run " + run + " of 4 pages is in the list of 3");
    }

    @Test
    void verifyFindsAShortRunInTheTreeAndATreeOutOfOrder() {
        int shorter = spans.create(0, 200, SpanTable.FREE);
        int longer = spans.create(300, 300, SpanTable.FREE);
        runs.insert(shorter);
        runs.insert(longer);
        assertThatCode(runs::verify).doesNotThrowAnyException();
        spans.setPages(longer, 150);
        assertThatThrownBy(runs::verify).isInstanceOf(IllegalStateException.class)
                .hasMessage("heap invariant broken: tree out of order at span " + longer);
        spans.setPages(shorter, 100);
        assertThatThrownBy(runs::verify).isInstanceOf(IllegalStateException.class)
                .hasMessage("heap invariant broken: tree holds a 100-page run");
    }

    /** Lengths around the lists' mask words (64) and their end (128), where best fit changes road. */
    private static int randomLength(SplittableRandom random) {
        return switch (random.nextInt(4)) {
            case 0 -> 1 + random.nextInt(8);
            case 1 -> 60 + random.nextInt(8);
            case 2 -> 124 + random.nextInt(8);
            default -> 1 + random.nextInt(300);
        };
    }

    private static int modelBestFit(Map<Integer, Deque<Integer>> listed, TreeMap<Long, Integer> long_, int want) {
        for (int pages = want; pages < FreeRuns.LISTED_PAGES; pages++) {
            Deque<Integer> list = listed.get(pages);
            if (list != null && !list.isEmpty()) {
                return list.peek();
            }
        }
        Map.Entry<Long, Integer> fit = long_.ceilingEntry(key(want, 0));
        return fit == null ? 0 : fit.getValue();
    }

    private static List<Integer> modelOrder(Map<Integer, Deque<Integer>> listed, TreeMap<Long, Integer> long_) {
        List<Integer> order = new ArrayList<>();
        for (int pages = 1; pages < FreeRuns.LISTED_PAGES; pages++) {
            order.addAll(listed.getOrDefault(pages, new ArrayDeque<>()));
        }
        order.addAll(long_.values());
        return order;
    }

    private static long key(int pages, int start) {
        return (long) pages << 32 | start;
    }
}
