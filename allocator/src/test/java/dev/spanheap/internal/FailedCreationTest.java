package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.OsMemoryException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A heap whose creation fails after its address space was reserved gives the reservation back at
 * once. Before, each failed attempt kept its whole range (64 GiB by default) for the life of the
 * process: nothing had registered its unmapping yet.
 */
class FailedCreationTest {

    private static final long LIMIT = 1L << 30;

    /** Linux's calls, except that the {@code failing}-th reservation is refused; counts bytes unmapped. */
    private static final class RefusingOs extends ForwardingOsMemory {
        private final AtomicInteger reservationsLeft;
        final AtomicLong unmapped = new AtomicLong();

        RefusingOs(int failing) {
            this.reservationsLeft = new AtomicInteger(failing);
        }

        @Override
        public long reserve(long bytes) {
            if (reservationsLeft.decrementAndGet() == 0) {
                throw new OsMemoryException("mmap", bytes, 12, "Cannot allocate memory");
            }
            return super.reserve(bytes);
        }

        @Override
        public void unmap(long address, long bytes) {
            super.unmap(address, bytes);
            unmapped.addAndGet(bytes);
        }
    }

    @Test
    void aCheckedHeapWhoseAllocationBitmapCannotBeMappedGivesItsReservationBack() {
        // Reservations: the heap's, its page map and span records, then checked mode's bitmap.
        RefusingOs os = new RefusingOs(3);
        assertThatThrownBy(() -> new Heap(new HeapConfig(os, LIMIT, PageHeap.DEFAULT_COMMIT_STEP_PAGES, 1 << 20,
                4 << 20, true))).isInstanceOf(OsMemoryException.class);
        assertThat(os.unmapped.get()).as("bytes unmapped after the failure").isGreaterThanOrEqualTo(LIMIT);
    }
}
