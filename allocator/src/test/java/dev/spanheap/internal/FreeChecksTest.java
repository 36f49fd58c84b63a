package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The edges of the address checks that every slow free, usable-size query and reallocation makes
 * ({@link FreeChecks#checkedEntry}): the first and last addresses each refusal covers, and the
 * heap's very first block, which sits at offset 0 and so on the edge of "before the heap". A check
 * off by one there would refuse a real block or read the page map past what is committed.
 */
class FreeChecksTest {

    private static final long MAX_HEAP = 64L << 20;

    private Heap heap;

    private Heap heap(boolean checked) {
        heap = new Heap(new HeapConfig(LinuxOsMemory.INSTANCE, MAX_HEAP, 16, 1 << 20, 4 << 20, checked));
        return heap;
    }

    @AfterEach
    void close() {
        heap.verify();
        heap.close();
    }

    private String outside(long address) {
        return String.format("0x%x was not allocated by this heap (its addresses are 0x%x..0x%x)",
                address, heap.base(), heap.base() + heap.reservedBytes());
    }

    @ParameterizedTest(name = "checked {0}")
    @ValueSource(booleans = {false, true})
    void addressesJustOutsideTheReservationNameItsRange(boolean checked) {
        heap(checked);
        long before = heap.base() - 8;
        long after = heap.base() + heap.reservedBytes();
        assertThat(heap.reservedBytes()).isEqualTo(MAX_HEAP);
        for (long address : new long[] {before, after}) {
            assertThatThrownBy(() -> heap.free(address)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(outside(address));
            assertThatThrownBy(() -> heap.usableSize(address)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage(outside(address));
        }
    }

    @ParameterizedTest(name = "checked {0}")
    @ValueSource(booleans = {false, true})
    void addressesFromTheCommittedEndToTheReservationsEndAreBeyondTheCommittedPages(boolean checked) {
        heap(checked);
        long block = heap.allocate(100, 8);
        long committedEnd = heap.base() + heap.pageHeap().committedBytes();
        assertThat(committedEnd).as("the test needs uncommitted reservation").isLessThan(heap.base() + MAX_HEAP);
        for (long address : new long[] {committedEnd, heap.base() + MAX_HEAP - 8}) {
            assertThatThrownBy(() -> heap.free(address)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("0x%x was not allocated by this heap: it lies beyond the heap's committed pages", address);
        }
        heap.free(block);
    }

    /** Offset 0 is inside the reservation, so before any page is committed it is beyond them, not outside. */
    @ParameterizedTest(name = "checked {0}")
    @ValueSource(booleans = {false, true})
    void theFirstByteOfAHeapWithNothingCommittedIsBeyondTheCommittedPages(boolean checked) {
        heap(checked);
        assertThat(heap.pageHeap().committedBytes()).as("a new heap commits nothing").isZero();
        long first = heap.base();
        assertThatThrownBy(() -> heap.free(first)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("0x%x was not allocated by this heap: it lies beyond the heap's committed pages", first);
    }

    @ParameterizedTest(name = "checked {0}")
    @ValueSource(booleans = {false, true})
    void theBlockAtTheHeapsFirstByteIsAnOrdinaryBlock(boolean checked) {
        heap(checked);
        // A fresh heap cuts its first span from page 0; a page-sized block is that span's first object.
        long first = heap.allocate(Pages.SIZE, 8);
        assertThat(first).isEqualTo(heap.base());
        assertThat(heap.usableSize(first)).isEqualTo(Pages.SIZE);
        heap.free(first);
        assertThatThrownBy(() -> heap.free(first)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free of 0x" + Long.toHexString(first));
        long large = heap.allocate(1 << 20, 8);
        heap.free(large);
    }

    @ParameterizedTest(name = "checked {0}")
    @ValueSource(booleans = {false, true})
    void anAddressThatIsNotEightByteAlignedIsRefusedAsSuch(boolean checked) {
        heap(checked);
        long block = heap.allocate(64, 8);
        assertThatThrownBy(() -> heap.free(block + 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("0x%x is not the start of a block: blocks are at least 8-byte aligned", block + 4);
        heap.free(block);
    }
}
