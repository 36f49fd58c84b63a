package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A second free of a block under 128 B, whose free mark is a cookie in its first word, racing the
 * return of the block's span to the page heap and the release of its pages: released memory reads 0,
 * so a free that read the block's page-map entry before the return and its first word after the
 * release would find no cookie (and from 128 B up, one whose pages were carved again for another
 * class would find the new block's flag reading allocated). The fast path's check
 * ({@link Heap#isUnmarkedBlockStart}) and the slow path read the entry again after the mark. The
 * first two tests play the interleavings out step by step, the entry read before the return, the
 * rest of the check after it; the third leaves the race to two threads.
 */
class FreeRacingReleaseTest {

    @Test
    void aFastFreeThatReadItsEntryBeforeTheSpanWasReleasedIsNotTakenForALiveBlock() {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        try {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 16 << 10; i++) {
                blocks.add(heap.allocate(48, 1));
            }
            long address = blocks.get(blocks.size() / 2);
            long offset = address - heap.base();
            int page = (int) (offset >>> Pages.SHIFT);
            // What a free of the live block reads first.
            long entry = heap.pageHeap().pageMap.entry(page);
            int c = PageMap.sizeClass(entry);
            assertThat(FreeMarks.isFlagged(c)).as("a class marked by a cookie").isFalse();
            assertThat(isUnmarkedBlockStart(heap, c, offset, entry, address)).as("the live block").isTrue();

            // Then the block is freed, its span goes back to the page heap, and its pages are released.
            blocks.forEach(heap::free);
            heap.releaseMemory();
            assertThat(heap.pageHeap().pageMap.entry(page)).as("the entry after the span's return").isNotEqualTo(entry);
            assertThat(RawMemory.ALL.get(FreeMarks.WORD, address)).as("released memory").isZero();

            // The rest of the first free's check: no cookie, but the entry changed under it.
            assertThat(isUnmarkedBlockStart(heap, c, offset, entry, address)).isFalse();
            // So the free goes to the slow path, which refuses it.
            assertThatThrownBy(() -> heap.free(address)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("double free of 0x" + Long.toHexString(address));
            heap.verify();
        } finally {
            heap.close();
        }
    }

    @Test
    void aFastFreeThatReadItsEntryBeforeTheAddressWentToAnotherClassIsNotTakenForItsOldClass() {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        try {
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 16 << 10; i++) {
                blocks.add(heap.allocate(512, 1));
            }
            long address = blocks.get(blocks.size() / 2);
            long offset = address - heap.base();
            int page = (int) (offset >>> Pages.SHIFT);
            long entry = heap.pageHeap().pageMap.entry(page);
            int c = PageMap.sizeClass(entry);
            assertThat(FreeMarks.isFlagged(c)).as("a class marked by a flag").isTrue();
            long flag = heap.freeMarks().flagAddress(address);

            // Freed, its span back in the page heap, and its pages carved again for 256 B blocks
            // until one of them starts at the same address.
            blocks.forEach(heap::free);
            heap.releaseMemory();
            Set<Long> reused = new HashSet<>();
            for (int i = 0; i < 64 << 10 && !reused.contains(address); i++) {
                reused.add(heap.allocate(256, 1));
            }
            assertThat(reused).as("256 B blocks over the old span").contains(address);
            assertThat(PageMap.sizeClass(heap.pageHeap().pageMap.entry(page))).isNotEqualTo(c);
            assertThat(RawMemory.ALL.get(FreeMarks.FLAG, flag)).as("the new block's flag").isEqualTo(FreeMarks.ALLOCATED);

            // The rest of the stale free's check: its flag reads allocated, but the entry changed,
            // so it is not pushed as a 512 B block.
            assertThat(Heap.isUnmarkedBlockStart(c, offset, entry, address, 0, flag, heap.pageMapAddress())).isFalse();
            heap.verify();
        } finally {
            heap.close();
        }
    }

    /**
     * The same race left to the threads: one frees blocks and then frees each again, while another
     * returns idle central memory and releases free pages as fast as it can, so that spans go back
     * and are released under the second frees. Every second free must be refused.
     */
    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(longs = {48, 512})
    void secondFreesRacingReleasesOfTheirSpansAreAllRefused(long size) throws Exception {
        Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong releases = new AtomicLong();
        Thread releaser = Thread.ofPlatform().start(() -> {
            while (!done.get()) {
                heap.releaseMemory();
                releases.incrementAndGet();
            }
        });
        try {
            long[] blocks = new long[2000];
            for (int round = 0; round < 50; round++) {
                for (int i = 0; i < blocks.length; i++) {
                    blocks[i] = heap.allocate(size, 1);
                }
                for (long block : blocks) {
                    heap.free(block);
                }
                for (long block : blocks) {
                    assertThatThrownBy(() -> heap.free(block)).as("round %d", round)
                            .isInstanceOf(IllegalStateException.class)
                            .hasMessageStartingWith("double free of 0x" + Long.toHexString(block));
                }
            }
        } finally {
            done.set(true);
            releaser.join();
        }
        assertThat(releases.get()).as("releases run meanwhile").isPositive();
        heap.verify();
        heap.close();
    }

    /** The fast path's check of a block under 128 B. */
    private static boolean isUnmarkedBlockStart(Heap heap, int c, long offset, long entry, long address) {
        long cookie = heap.freeMarks().cookieOf(address);
        return Heap.isUnmarkedBlockStart(c, offset, entry, address, cookie, 0, heap.pageMapAddress());
    }
}
