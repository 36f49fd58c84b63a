package dev.spanheap.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * For every page of the reservation, the id of the span record that covers it (0: none). This is
 * how {@code free} finds a block's span in O(1), as Go's {@code spanOf} and TCMalloc's pagemap do.
 *
 * <p>Layout: a flat off-heap array of 32-bit span ids indexed by page number, mapped read-write
 * with {@code MAP_NORESERVE} beside the heap. A 64 GiB reservation needs 32 MiB of address space
 * here, but only the entries of pages the heap has touched become resident.
 * <pre>
 *   page:   0        1        2         ...  reservedPages-1
 *         +--------+--------+--------+-----+--------+
 *         | spanId | spanId | spanId | ... | spanId |   int32 each
 *         +--------+--------+--------+-----+--------+
 * </pre>
 * Invariant (checked by {@link PageHeap#verify()}): every committed page maps to the record that
 * covers it, whether that record is an in-use span or a free run.
 *
 * <p>Written under the page heap's lock; read without a lock by {@code free}, which only looks up
 * blocks the caller owns, whose entries do not change while they are allocated.
 */
final class PageMap {

    private static final long ENTRY_BYTES = Integer.BYTES;

    private final MemorySegment entries;

    /** {@code entries} must be {@code pages * 4} bytes of zeroed, writable memory. */
    PageMap(MemorySegment entries) {
        this.entries = entries;
    }

    static long bytesFor(int pages) {
        return pages * ENTRY_BYTES;
    }

    int spanAt(int page) {
        return entries.getAtIndex(ValueLayout.JAVA_INT, page);
    }

    void set(int page, int span) {
        entries.setAtIndex(ValueLayout.JAVA_INT, page, span);
    }

    void setRange(int firstPage, int pages, int span) {
        for (int page = firstPage, end = firstPage + pages; page < end; page++) {
            entries.setAtIndex(ValueLayout.JAVA_INT, page, span);
        }
    }
}
