package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Closing a heap gives up the reservation above the committed frontier at once: a closed heap that
 * is not yet collected holds only what it committed (a program that made and closed 2100 default
 * heaps faster than the GC collected them ran out of address space). And the unmapping never
 * races a growth: a commit after it would map pages over whatever took the range meanwhile.
 */
class CloseUnmapTest {

    private static final long PAGES = 256;
    private static final int STEP = 16;

    /** Linux's calls, recorded in order; a commit can be held at its start by the test. */
    private static final class RecordingOs extends ForwardingOsMemory {
        final List<String> calls = new CopyOnWriteArrayList<>();
        final CountDownLatch commitEntered = new CountDownLatch(1);
        final CountDownLatch commitProceed = new CountDownLatch(1);
        volatile boolean holdNextCommit;
        volatile long base;

        @Override
        public void commit(long address, long bytes) {
            if (holdNextCommit) {
                holdNextCommit = false;
                commitEntered.countDown();
                try {
                    assertThat(commitProceed.await(1, TimeUnit.MINUTES)).isTrue();
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
            super.commit(address, bytes);
            calls.add("commit " + pages(address) + "+" + bytes / Pages.SIZE);
        }

        @Override
        public void unmap(long address, long bytes) {
            super.unmap(address, bytes);
            calls.add("unmap " + pages(address) + "+" + bytes / Pages.SIZE);
        }

        /** Pages from the heap's base (negative or huge: another mapping). */
        private long pages(long address) {
            return (address - base) / Pages.SIZE;
        }
    }

    private static PageHeap heapOn(RecordingOs os) {
        PageHeap heap = new PageHeap(os, PAGES * Pages.SIZE, STEP);
        os.base = heap.base();
        os.calls.clear();
        return heap;
    }

    @Test
    void closeUnmapsTheReservationAboveTheFrontierAtOnce() {
        RecordingOs os = new RecordingOs();
        PageHeap heap = heapOn(os);
        heap.allocate(20, Pages.SIZE, SpanTable.LARGE);
        int committed = (int) (heap.committedBytes() / Pages.SIZE);
        assertThat(committed).isEqualTo(2 * STEP);
        os.calls.clear();

        heap.close();

        assertThat(os.calls).as("the tail goes before the committed pages are swapped for zero pages")
                .startsWith("unmap " + committed + "+" + (PAGES - committed));
        assertThat(os.calls).doesNotContain("commit 0+" + PAGES).contains("commit 0+" + committed);
    }

    @Test
    void aHeapThatNeverGrewGivesUpItsWholeReservation() {
        RecordingOs os = new RecordingOs();
        PageHeap heap = heapOn(os);

        heap.close();

        assertThat(os.calls).startsWith("unmap 0+" + PAGES).noneMatch(call -> call.startsWith("commit 0+"));
    }

    /**
     * A growth stopped inside its mmap while another thread closes: the close waits for it, and
     * unmaps only above the pages it committed. Without the wait, the close unmapped from the old
     * frontier and the growth's commit then mapped pages into the range it had given up.
     */
    @Test
    void theUnmappingWaitsForAGrowthInFlight() throws Exception {
        RecordingOs os = new RecordingOs();
        PageHeap heap = heapOn(os);
        heap.allocate(1, Pages.SIZE, SpanTable.LARGE);
        os.holdNextCommit = true;
        FutureTask<Integer> grower = new FutureTask<>(() -> heap.allocate(40, Pages.SIZE, SpanTable.LARGE));
        Thread.ofPlatform().start(grower);
        assertThat(os.commitEntered.await(1, TimeUnit.MINUTES)).as("the growth reached mmap").isTrue();

        CountDownLatch closed = new CountDownLatch(1);
        Thread closer = Thread.ofPlatform().start(() -> {
            heap.close();
            closed.countDown();
        });
        assertThat(closed.await(300, TimeUnit.MILLISECONDS)).as("the close waits for the growth").isFalse();
        os.commitProceed.countDown();
        closer.join(TimeUnit.MINUTES.toMillis(1));
        grower.get(1, TimeUnit.MINUTES);

        int frontier = (int) (heap.committedBytes() / Pages.SIZE);
        assertThat(frontier).as("the growth committed its pages").isGreaterThan(STEP);
        int growthIndex = indexOfPrefix(os.calls, "commit " + STEP + "+");
        int unmapIndex = indexOfPrefix(os.calls, "unmap ");
        assertThat(growthIndex).as("calls: %s", os.calls).isNotNegative().isLessThan(unmapIndex);
        assertThat(os.calls.get(unmapIndex)).isEqualTo("unmap " + frontier + "+" + (PAGES - frontier));
    }

    private static int indexOfPrefix(List<String> calls, String prefix) {
        for (int i = 0; i < calls.size(); i++) {
            if (calls.get(i).startsWith(prefix)) {
                return i;
            }
        }
        return -1;
    }
}
