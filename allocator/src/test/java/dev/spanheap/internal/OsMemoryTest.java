package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.OsMemoryException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class OsMemoryTest {

    private static final int ENOMEM = 12;
    private static final int EINVAL = 22;

    /** Passes calls to Linux, refusing reservations above a size and commits after a count. */
    static final class FaultyOsMemory extends ForwardingOsMemory {
        final List<Long> reserveRequests = new ArrayList<>();
        long largestReservation = Long.MAX_VALUE;
        int commitsAllowed = Integer.MAX_VALUE;

        @Override
        public long reserve(long bytes) {
            reserveRequests.add(bytes);
            if (bytes > largestReservation) {
                throw new OsMemoryException("mmap", bytes, ENOMEM, "Cannot allocate memory");
            }
            return super.reserve(bytes);
        }

        @Override
        public void commit(long address, long bytes) {
            if (commitsAllowed-- <= 0) {
                throw new OsMemoryException("mmap", bytes, ENOMEM, "Cannot allocate memory");
            }
            super.commit(address, bytes);
        }
    }

    @Test
    void failingSyscallNamesCallSizeAndErrno() {
        assertThatThrownBy(() -> LinuxOsMemory.INSTANCE.unmap(1, 4096))
                .isInstanceOf(OsMemoryException.class)
                .hasMessage("munmap(4096 bytes) failed: errno 22 (Invalid argument)")
                .satisfies(e -> {
                    OsMemoryException failure = (OsMemoryException) e;
                    assertThat(failure.call()).isEqualTo("munmap");
                    assertThat(failure.bytes()).isEqualTo(4096);
                    assertThat(failure.errno()).isEqualTo(EINVAL);
                });
    }

    @Test
    void madviseFailureIsReported() {
        assertThatThrownBy(() -> LinuxOsMemory.INSTANCE.decommit(3, 8192))
                .isInstanceOf(OsMemoryException.class)
                .hasMessageStartingWith("madvise(8192 bytes) failed: errno 22");
    }

    @Test
    void refusedReservationIsRetriedSmaller() {
        FaultyOsMemory os = new FaultyOsMemory();
        os.largestReservation = (1L << 30) + AddressSpace.BASE_ALIGNMENT;
        PageHeap heap = new PageHeap(os, 4L << 30, PageHeap.DEFAULT_COMMIT_STEP_PAGES);
        try {
            assertThat(heap.reservedBytes()).isEqualTo(1L << 30);
            assertThat(os.reserveRequests.subList(0, 3)).containsExactly(
                    (4L << 30) + AddressSpace.BASE_ALIGNMENT,
                    (2L << 30) + AddressSpace.BASE_ALIGNMENT,
                    (1L << 30) + AddressSpace.BASE_ALIGNMENT);
        } finally {
            heap.close();
        }
    }

    @Test
    void reservationThatCannotBeHadNamesTheSize() {
        FaultyOsMemory os = new FaultyOsMemory();
        os.largestReservation = 0;
        assertThatThrownBy(() -> new PageHeap(os, 256L << 20, 16))
                .isInstanceOf(OsMemoryException.class)
                .hasMessageContaining("mmap(" + ((256L << 20) + AddressSpace.BASE_ALIGNMENT) + " bytes) failed: errno 12");
    }

    @Test
    void failedCommitLeavesTheHeapWorking() {
        FaultyOsMemory os = new FaultyOsMemory();
        // The metadata mapping and the free-flag table (FreeMarks) take one commit each; allow one
        // heap growth after them.
        os.commitsAllowed = 3;
        Heap heap = new Heap(new HeapConfig(os, 1L << 30, 16, 1 << 20, 1 << 20, false));
        try {
            long first = heap.allocate(64 << 10, 1);
            assertThatThrownBy(() -> heap.allocate(1 << 20, 1))
                    .isInstanceOf(OsMemoryException.class)
                    .hasMessageContaining("mmap(")
                    .hasMessageContaining("errno 12");
            heap.verify();
            heap.free(first);
            long again = heap.allocate(64 << 10, 1);
            assertThat(again).isEqualTo(first);
            heap.free(again);
            heap.verify();
        } finally {
            heap.close();
        }
    }
}
