package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Table-driven tests of the page heap, in the manner of Go's mpagealloc_test.go: a sequence of
 * operations, then the expected pages. Pages: 'L' large block, '.' free and resident, 'r' free and
 * released; '|' separates spans. The heap has 64 pages and commits 16 at a time.
 *
 * <p>Operations: {@code aN} allocates N pages, {@code aN@K} N pages aligned to K pages, {@code fI}
 * frees the I-th allocation, {@code R} releases every free page, {@code RN} N pages' worth.
 */
class PageHeapTest {

    private static final int PAGES = 64;
    private static final int STEP = 16;
    private PageHeap heap;

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("one page from fresh memory", "a1", "L|" + "r".repeat(15)),
                Arguments.of("freed pages are resident", "a4 a4 f0", "....|LLLL|" + "r".repeat(8)),
                Arguments.of("neighbours coalesce", "a4 a4 f0 f1", "........" + "r".repeat(8)),
                Arguments.of("coalesce on both sides", "a4 a4 a4 f0 f2 f1", "............rrrr"),
                Arguments.of("best fit takes the shortest run", "a2 a1 a4 a1 f0 f2 a2",
                        "LL|L|....|L|rrrrrrrr"),
                Arguments.of("equal short runs: the most recently freed first", "a2 a1 a2 a1 f0 f2 a2",
                        "..|L|LL|L|rrrrrrrrrr"),
                Arguments.of("no exact fit: the next longer run is split", "a2 a1 a2 a1 f0 f2 a9",
                        "..|L|..|L|LLLLLLLLL|r"),
                Arguments.of("growth commits whole steps", "a20", "L".repeat(20) + "|" + "r".repeat(12)),
                Arguments.of("growth merges with the free tail", "a10 a10",
                        "L".repeat(10) + "|" + "L".repeat(10) + "|" + "r".repeat(12)),
                Arguments.of("release gives back free pages", "a4 a4 f0 R", "rrrr|LLLL|" + "r".repeat(8)),
                Arguments.of("released and resident pages merge into one run", "a4 a4 a4 f0 R f1",
                        "rrrr....|LLLL|rrrr"),
                Arguments.of("reuse clears released state", "a4 f0 R a2", "LL|rrrrrrrrrrrrrr"),
                Arguments.of("a partial release takes the longest run first, from its start", "a4 a2 a10 a2 f0 f2 R3",
                        "....|LL|rrr.......|LL|" + "r".repeat(14)),
                Arguments.of("a partial release skips pages released already", "a4 a2 a10 a2 f0 f2 R3 R5",
                        "....|LL|rrrrrrrr..|LL|" + "r".repeat(14)),
                Arguments.of("a release past the longest run goes on to the next", "a4 a2 a10 a2 f0 f2 R12",
                        "rr..|LL|rrrrrrrrrr|LL|" + "r".repeat(14)),
                Arguments.of("alignment splits head and tail", "a1 a1@4", "L|rrr|L|" + "r".repeat(11)),
                Arguments.of("the whole reservation", "a64", "L".repeat(64)),
                Arguments.of("a free tail counts towards the last growth", "a40 f0 a64", "L".repeat(64)),
                Arguments.of("an aligned block from a free tail and the last growth", "a1 a20 f1 a32@32",
                        "L|" + ".".repeat(20) + "r".repeat(11) + "|" + "L".repeat(32)),
                Arguments.of("beyond the reservation fails and changes nothing", "a60 a8",
                        "L".repeat(60) + "|rrrr"));
    }

    /** A verify that raced the heap's close met the zeroed page map and reported it as broken. */
    @Test
    void aClosedPageHeapRefusesToVerifyOrDescribe() {
        heap = new PageHeap(LinuxOsMemory.INSTANCE, PAGES * Pages.SIZE, STEP);
        heap.allocate(4, Pages.SIZE, SpanTable.LARGE);
        heap.verify();
        heap.close();
        assertThatThrownBy(heap::verify).isInstanceOf(IllegalStateException.class).hasMessage("Spanheap is closed");
        assertThatThrownBy(heap::describe).isInstanceOf(IllegalStateException.class).hasMessage("Spanheap is closed");
        heap = null;
    }

    /**
     * The page heap's {@code verify()}, which the property tests run after every step, must see
     * each of these: a span record that outlives its span, a free run that keeps a size class, and
     * an in-use span with pages still marked as holding freed blocks. Each is broken here and put
     * right again.
     */
    @Test
    void verifyFindsASpanRecordThatNoPageMapsTo() {
        heap = new PageHeap(LinuxOsMemory.INSTANCE, PAGES * Pages.SIZE, STEP);
        heap.allocate(4, Pages.SIZE, SpanTable.LARGE);
        int stray = heap.spans.create(40, 2, SpanTable.LARGE);
        assertThatThrownBy(heap::verify).isInstanceOf(IllegalStateException.class)
                .hasMessage("heap invariant broken: span records: 3 live, page walk found 2 spans");
        heap.spans.destroy(stray);
        heap.verify();
    }

    @Test
    void verifyFindsAFreeRunWithASizeClass() {
        heap = new PageHeap(LinuxOsMemory.INSTANCE, PAGES * Pages.SIZE, STEP);
        int first = heap.allocate(4, Pages.SIZE, SpanTable.LARGE);
        heap.allocate(4, Pages.SIZE, SpanTable.LARGE);
        heap.free(first);
        int run = heap.pageMap.spanAt(0);
        heap.spans.setSizeClass(run, 5);
        assertThatThrownBy(heap::verify).isInstanceOf(IllegalStateException.class)
                .hasMessage("heap invariant broken: free run %d keeps size class 5", run);
        heap.spans.setSizeClass(run, 0);
        heap.verify();
    }

    @Test
    void verifyFindsAnInUseSpanMarkedAsHoldingFreedBlocks() throws ReflectiveOperationException {
        heap = new PageHeap(LinuxOsMemory.INSTANCE, PAGES * Pages.SIZE, STEP);
        heap.allocate(4, Pages.SIZE, SpanTable.LARGE);
        int span = heap.allocate(4, Pages.SIZE, SpanTable.LARGE);
        java.lang.reflect.Field field = PageHeap.class.getDeclaredField("heldFreedBlocks");
        field.setAccessible(true);
        PageBits heldFreedBlocks = (PageBits) field.get(heap);
        heldFreedBlocks.set(heap.spans.start(span) + 2);
        assertThatThrownBy(heap::verify).isInstanceOf(IllegalStateException.class)
                .hasMessage("heap invariant broken: in-use span %d has pages marked as holding freed blocks", span);
        heldFreedBlocks.clearRange(heap.spans.start(span), 4);
        heap.verify();
    }

    @Test
    void aReleaseReturnsTheBytesItReleasedAndNoMore() {
        heap = new PageHeap(LinuxOsMemory.INSTANCE, PAGES * Pages.SIZE, STEP);
        int first = heap.allocate(4, Pages.SIZE, SpanTable.LARGE);
        heap.allocate(2, Pages.SIZE, SpanTable.LARGE);
        int third = heap.allocate(10, Pages.SIZE, SpanTable.LARGE);
        heap.free(first);
        heap.free(third);
        // A budget that is not a whole number of pages rounds up to the next page.
        assertThat(heap.release(3 * Pages.SIZE - 100)).isEqualTo(3 * Pages.SIZE);
        assertThat(heap.release(Long.MAX_VALUE)).isEqualTo((4 + 7) * Pages.SIZE);
        assertThat(heap.release(Long.MAX_VALUE)).isZero();
        heap.verify();
    }

    @AfterEach
    void close() {
        if (heap != null) {
            heap.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void pagesAfterOperations(String name, String operations, String expected) {
        heap = new PageHeap(LinuxOsMemory.INSTANCE, PAGES * Pages.SIZE, STEP);
        List<Integer> allocated = new ArrayList<>();
        for (String op : operations.split(" ")) {
            switch (op.charAt(0)) {
                case 'a' -> {
                    String[] parts = op.substring(1).split("@");
                    int pages = Integer.parseInt(parts[0]);
                    long align = parts.length > 1 ? Integer.parseInt(parts[1]) * Pages.SIZE : Pages.SIZE;
                    allocated.add(heap.allocate(pages, align, SpanTable.LARGE));
                }
                case 'f' -> heap.free(allocated.get(Integer.parseInt(op.substring(1))));
                case 'R' -> heap.release(op.length() == 1 ? Long.MAX_VALUE : Long.parseLong(op.substring(1)) * Pages.SIZE);
                default -> throw new IllegalArgumentException(op);
            }
            heap.verify();
        }
        assertThat(heap.describe()).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void countersMatchThePages(String name, String operations, String expected) {
        pagesAfterOperations(name, operations, expected);
        PageHeap.PageCounts counts = heap.counts();
        String pages = expected.replace("|", "");
        assertThat(counts.committed()).isEqualTo(pages.length());
        assertThat(counts.free()).isEqualTo(pages.replace("L", "").length());
        assertThat(counts.releasedFree()).isEqualTo(pages.replace("L", "").replace(".", "").length());
    }

    /**
     * A growth that counted on the free run below the frontier, which another thread takes while
     * the growing thread is inside {@code mmap}: the growth finds its run too short and grows again.
     */
    @Test
    void aGrowthWhoseFreeTailWasTakenMeanwhileGrowsAgain() throws Exception {
        BlockingOsMemory os = new BlockingOsMemory(true, false);
        heap = new PageHeap(os, 2 * PAGES * Pages.SIZE, STEP);
        heap.allocate(1, Pages.SIZE, SpanTable.LARGE);
        heap.free(heap.allocate(20, Pages.SIZE, SpanTable.LARGE));
        assertThat(heap.describe()).isEqualTo("L|" + ".".repeat(20) + "r".repeat(11));

        os.armed = true;
        FutureTask<Integer> grower = new FutureTask<>(() -> heap.allocate(40, Pages.SIZE, SpanTable.LARGE));
        Thread.ofPlatform().start(grower);
        assertThat(os.entered.await(1, TimeUnit.MINUTES)).as("the growth reached mmap").isTrue();
        assertThat(heap.allocate(31, Pages.SIZE, SpanTable.LARGE)).isNotZero();
        os.proceed.countDown();

        assertThat(grower.get(1, TimeUnit.MINUTES)).isNotZero();
        heap.verify();
        assertThat(heap.describe()).isEqualTo("L|" + "L".repeat(31) + "|" + "L".repeat(40) + "|" + "r".repeat(8));
    }
}
