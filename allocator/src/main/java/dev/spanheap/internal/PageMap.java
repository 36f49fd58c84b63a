package dev.spanheap.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * For every page of the reservation, the span that covers it; this is how {@code free} finds a
 * block's span in O(1), as Go's {@code spanOf} and TCMalloc's pagemap do. Each entry also carries
 * what the small-object free path needs, so that it reads one word of metadata and no span record.
 *
 * <p>Layout: a flat off-heap array of 64-bit entries indexed by page number, mapped read-write
 * beside the heap; a 64 GiB reservation needs 64 MiB of address space here, resident only where
 * the heap has been used.
 * <pre>
 *  63        48 47        40 39        32 31                               0
 * +------------+------------+------------+----------------------------------+
 * |   unused   | pageInSpan | sizeClass  |             span id              |
 * +------------+------------+------------+----------------------------------+
 * </pre>
 * {@code sizeClass} is 0 unless the page belongs to a span cut into objects; {@code pageInSpan} is
 * the page's index within that span. An entry of 0 means "no span" (uncommitted page).
 *
 * <p>Invariant (checked by {@link PageHeap#verify()}): every committed page maps to the record that
 * covers it, with the class and page index of that record when it is a small-object span.
 * Written under the page heap's lock, or by a central list for a span it has just been given;
 * read without a lock by {@code free}, which only looks up blocks its caller owns.
 */
final class PageMap {

    static final int SPAN_BITS = 32;
    static final int CLASS_BITS = 8;
    static final int CLASS_SHIFT = SPAN_BITS;
    static final int PAGE_IN_SPAN_SHIFT = CLASS_SHIFT + CLASS_BITS;
    private static final long SPAN_MASK = (1L << SPAN_BITS) - 1;
    private static final long CLASS_MASK = (1L << CLASS_BITS) - 1;

    private static final long ENTRY_BYTES = Long.BYTES;

    /** Address of entry 0; entries are read through {@link RawMemory#ALL} (see there why). */
    private final long base;
    private final long bytes;

    /** {@code entries} must be {@code bytesFor(pages)} bytes of zeroed, writable memory. */
    PageMap(MemorySegment entries) {
        this.base = entries.address();
        this.bytes = entries.byteSize();
    }

    static long bytesFor(int pages) {
        return pages * ENTRY_BYTES;
    }

    static int span(long entry) {
        return (int) (entry & SPAN_MASK);
    }

    static int sizeClass(long entry) {
        return (int) ((entry >>> CLASS_SHIFT) & CLASS_MASK);
    }

    static int pageInSpan(long entry) {
        return (int) (entry >>> PAGE_IN_SPAN_SHIFT);
    }

    /** The entry of {@code page}, which must be a page of the reservation. */
    long entry(int page) {
        // Unaligned layout: entries are aligned, and this spares the run-time alignment check.
        return RawMemory.ALL.get(ValueLayout.JAVA_LONG_UNALIGNED, base + ((long) page << 3));
    }

    private void set(int page, long entry) {
        long offset = (long) page << 3;
        if (offset >= bytes) {
            throw new IndexOutOfBoundsException("page " + page + " is outside the page map");
        }
        RawMemory.ALL.set(ValueLayout.JAVA_LONG, base + offset, entry);
    }

    int spanAt(int page) {
        return span(entry(page));
    }

    /** Maps pages {@code [firstPage, firstPage + pages)} to {@code span}, with no size class. */
    void setRange(int firstPage, int pages, int span) {
        for (int page = firstPage, end = firstPage + pages; page < end; page++) {
            set(page, span & SPAN_MASK);
        }
    }

    /** Marks the pages of small-object span {@code span} with its class and each page's index. */
    void setSmall(int firstPage, int pages, int span, int sizeClass) {
        for (int i = 0; i < pages; i++) {
            long entry = (span & SPAN_MASK) | ((long) sizeClass << CLASS_SHIFT) | ((long) i << PAGE_IN_SPAN_SHIFT);
            set(firstPage + i, entry);
        }
    }
}
