package dev.spanheap.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * For the pages of the reservation, the span that covers them; this is how {@code free} finds a
 * block's span in O(1), as Go's {@code spanOf} and TCMalloc's pagemap do: every page of a
 * small-object span, and the first and last pages of the others (see the invariant below). Each
 * entry also carries what the small-object free path needs, so that it reads one word of metadata
 * and no span record.
 *
 * <p>Layout: a flat off-heap array of 64-bit entries indexed by page number, mapped read-write
 * beside the heap; a 64 GiB reservation needs 64 MiB of address space here, resident only where
 * small-object spans have been since the pages were last released.
 * <pre>
 *  63                              32 31                13 12            8 7          0
 * +----------------------------------+--------------------+---------------+------------+
 * |             span id              | pageInSpan (x8192) |       0       | sizeClass  |
 * +----------------------------------+--------------------+---------------+------------+
 * </pre>
 * {@code sizeClass} is 0 unless the page belongs to a span cut into objects; {@code pageInSpan} is
 * the page's index within that span, kept where {@code entry & PAGE_OFFSET_MASK} reads it as the
 * page's byte offset in the span. The free path needs the class and that offset; both come out of
 * the low word with one mask each. An entry of 0 names no span: pages past the committed ones read
 * 0, and so may pages inside a span that is not a small-object one (see below).
 *
 * <p>Invariant (checked by {@link PageHeap#verify()}): every page of a small-object span maps to
 * its record, with its class and the page's index; the first and last pages of any other span
 * (a large block, or a free run) map to its record, and the pages inside it to anything without a
 * class: 0, its own id, or the id of a span that covered them before, perhaps since reused. Go's
 * page heap keeps the same rule for free spans ("internal pages map to an arbitrary span"), and
 * TCMalloc maps only a large span's ends. So a large block's allocation and free write two entries
 * however long it is, and a release can give the entries inside a free run back (see
 * {@link MetadataReleases}). So a lookup of a block trusts an entry only when the span it names
 * starts at that page, and a refusal finds the span that covers a page by where spans start
 * ({@link PageHeap#spanCoveringLocked}).
 *
 * <p>Written under the page heap's lock, or by a central list for a span it has just been given;
 * read without a lock by {@code free}, which only looks up blocks its caller owns.
 */
final class PageMap {

    static final int CLASS_BITS = 8;
    private static final long CLASS_MASK = (1L << CLASS_BITS) - 1;
    /** {@code entry & PAGE_OFFSET_MASK}: the page's byte offset within its small-object span. */
    static final long PAGE_OFFSET_MASK = 0xFFFF_FFFFL & -Pages.SIZE;
    private static final int SPAN_SHIFT = 32;
    /** Span ids are non-negative ints: the high word. */
    private static final long SPAN_MASK = 0xFFFF_FFFFL;
    /** The span id's bits: all that an entry inside a span that is not a small-object one may hold. */
    static final long SPAN_BITS = SPAN_MASK << SPAN_SHIFT;
    /** Bits 8-12, which no field uses: always 0 ({@link PageHeap#verify()} checks it). */
    static final long UNUSED_BITS = ~(CLASS_MASK | PAGE_OFFSET_MASK | (SPAN_MASK << SPAN_SHIFT));

    private static final long ENTRY_BYTES = Long.BYTES;
    /** How entries are read and written (aligned, but see {@link #entryAt} for why unaligned). */
    static final ValueLayout.OfLong ENTRY = ValueLayout.JAVA_LONG_UNALIGNED;
    /**
     * The most pages a small-object span may have: {@code pageInSpan} must stay clear of the
     * span id, and the free path reads the page's offset with one mask.
     */
    static final int MAX_SMALL_SPAN_PAGES = 1 << (SPAN_SHIFT - Pages.SHIFT);

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
        return (int) (entry >>> SPAN_SHIFT);
    }

    static int sizeClass(long entry) {
        return (int) (entry & CLASS_MASK);
    }

    static int pageInSpan(long entry) {
        return (int) ((entry & PAGE_OFFSET_MASK) >>> Pages.SHIFT);
    }

    /** The entry of {@code page}, which must be a page of the reservation. */
    long entry(int page) {
        return entryAt(base, (long) page << Pages.SHIFT);
    }

    /** Address of entry 0, for {@link #entryAt}. */
    long address() {
        return base;
    }

    /**
     * The entry of the page holding byte {@code offset} of the reservation, from the map at
     * {@code mapAddress}: for the fast paths, which keep the address in a final field and so save a
     * dependent load per free.
     */
    static long entryAt(long mapAddress, long offset) {
        // Unaligned layout: entries are aligned, and this spares the run-time alignment check.
        // (offset >>> Pages.SHIFT) * 8 in one shift and one mask.
        return RawMemory.ALL.get(ENTRY, mapAddress + ((offset >>> (Pages.SHIFT - 3)) & -ENTRY_BYTES));
    }

    /**
     * Whether the entry of the page holding byte {@code offset} still equals {@code entry}, read
     * after every load before this call: what a free (or a size lookup) checks after its block's
     * free mark. A second free can meet its block's span going back to the page heap: released
     * memory reads 0, which is no cookie, and the pages may even be carved again and the address
     * handed out in another class, its flag reading allocated. A check that read the entry before
     * that and the mark after it would take the block for a live one of its old class. The span's
     * return rewrites the entry before any release or carve, so the entry read again here differs.
     * The fence keeps the JIT from reusing the first read; on x86 it is no instruction.
     */
    static boolean stillMaps(long mapAddress, long offset, long entry) {
        VarHandle.loadLoadFence();
        return entryAt(mapAddress, offset) == entry;
    }

    /** {@link #stillMaps(long, long, long)} on this map. */
    boolean stillMaps(long offset, long entry) {
        return stillMaps(base, offset, entry);
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

    /**
     * Maps every page of {@code [firstPage, firstPage + pages)} to {@code span}, with no size class:
     * for a small-object span going back to the page heap, whose entries must lose their class. The
     * range is checked once and the entries written with the unaligned layout (they are aligned): a
     * check per entry (bounds, alignment) was most of a mixed-size large pair's time when large
     * blocks mapped every page.
     */
    void setRange(int firstPage, int pages, int span) {
        long first = checkedRange(firstPage, pages);
        long entry = (span & SPAN_MASK) << SPAN_SHIFT;
        for (long address = first, last = first + ((long) pages << 3); address < last; address += ENTRY_BYTES) {
            RawMemory.ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, address, entry);
        }
    }

    /**
     * Maps the first and last pages of span or free run {@code [firstPage, firstPage + pages)} to
     * {@code span}, as every span but a small-object one is mapped: coalescing reads a neighbour's
     * end, and every lookup of a large block reads its first page. The entries inside are left as
     * they are, 0 or any span's id (see the invariant above), so that a large block's allocation
     * and free write two entries however long it is.
     */
    void setEnds(int firstPage, int pages, int span) {
        long first = checkedRange(firstPage, pages);
        long entry = (span & SPAN_MASK) << SPAN_SHIFT;
        RawMemory.ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, first, entry);
        RawMemory.ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, first + ((long) (pages - 1) << 3), entry);
    }

    /** The address of the entry of {@code firstPage}, after checking that the map holds {@code pages > 0} from it. */
    private long checkedRange(int firstPage, int pages) {
        long first = (long) firstPage << 3;
        if (firstPage < 0 || pages <= 0 || first + ((long) pages << 3) > bytes) {
            throw new IndexOutOfBoundsException("pages " + firstPage + "+" + pages + " are outside the page map");
        }
        return base + first;
    }

    /** Marks the pages of small-object span {@code span} with its class and each page's index. */
    void setSmall(int firstPage, int pages, int span, int sizeClass) {
        if (pages > MAX_SMALL_SPAN_PAGES) {
            throw new IllegalArgumentException("a small-object span of " + pages + " pages");
        }
        for (int i = 0; i < pages; i++) {
            set(firstPage + i, ((span & SPAN_MASK) << SPAN_SHIFT) | ((long) i << Pages.SHIFT) | (sizeClass & CLASS_MASK));
        }
    }
}
