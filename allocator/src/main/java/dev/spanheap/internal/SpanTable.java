package dev.spanheap.internal;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * The span records: one per run of pages, whether free, holding one large block, or cut into
 * objects of one size class (see package-info for the states). Records are fixed-size structs in
 * an off-heap region reserved for the largest possible number of spans (one per page) and touched
 * only as ids are used; ids are recycled lowest-first, so the touched part stays small. Records
 * never move, which matters: central lists update their spans' fields under their own locks while
 * the page heap creates other spans under its lock. Id 0 is never used, so that a zero page-map
 * entry means "no span".
 *
 * <pre>
 *  offset  field           written by (under)             meaning
 *   0      start   int     page heap (page heap lock)     first page of the run
 *   4      pages   int     page heap                      length of the run in pages
 *   8      state   byte    page heap; LARGE/CACHED by CAS UNUSED, FREE, LARGE, SMALL, CACHED (a
 *                                                          freed large block a thread cache keeps),
 *                                                          RELEASING or SAMPLED (a profiled block)
 *   9      class   byte    page heap, read lock-free      size class of a SMALL span
 *  12      released int    page heap                      FREE: pages released; in use: pages that
 *                                                         were released when allocated (read as zero)
 *  16      left    int     page heap                      free-run tree links and priority
 *  20      right   int
 *  24      prio    int
 *  28      objects int     central list (its lock)        SMALL: objects the span was cut into
 *  32      freeObj int     central list                   SMALL: objects in the span (bits set below)
 *  36      next    int     central list                   SMALL: links of the class's partial list
 *  40      prev    int
 *  48      bits    long[16] central list                  SMALL: bit i set when object i is in the span,
 *                                                         not in a cache and not with a user
 *  176     (record size)
 * </pre>
 */
final class SpanTable {

    static final byte UNUSED = 0;
    /** A free run of pages, in the page heap's free-run tree. */
    static final byte FREE = 1;
    /** One large block of whole pages, handed to a user. */
    static final byte LARGE = 2;
    /** Cut into objects of one size class; owned by that class's central list. */
    static final byte SMALL = 3;
    /**
     * A freed large or sampled block kept whole in a thread cache, for that thread's next sample;
     * owned by that cache. A free moves a span from LARGE or SAMPLED to CACHED by compare-and-set on
     * the state word, so exactly one free of a block succeeds.
     */
    static final byte CACHED = 4;
    /**
     * A free run taken out of the free runs while a release gives its pages back without the page
     * heap's lock: not allocatable, not merged with neighbours, FREE again when the release ends.
     */
    static final byte RELEASING = 5;
    /**
     * One block sampled by the {@link HeapProfiler}, handed to a user: a large span of its own
     * (whatever the block's size), so that its free reaches the page heap and can drop the sample,
     * while unsampled frees pay nothing. Never CACHED: the LARGE-to-CACHED compare-and-set fails on it.
     */
    static final byte SAMPLED = 6;

    /** The int at the state's offset: state, size class (0 for large spans) and padding. */
    private static final VarHandle STATE_WORD = ValueLayout.JAVA_INT.varHandle();

    /** Words of free-object bitmap per span: the smallest class (8 bytes) fits 1024 in one page. */
    static final int BITMAP_WORDS = 16;

    static final StructLayout RECORD = MemoryLayout.structLayout(
            ValueLayout.JAVA_INT.withName("start"),
            ValueLayout.JAVA_INT.withName("pages"),
            ValueLayout.JAVA_BYTE.withName("state"),
            ValueLayout.JAVA_BYTE.withName("sizeClass"),
            MemoryLayout.paddingLayout(2),
            ValueLayout.JAVA_INT.withName("releasedPages"),
            ValueLayout.JAVA_INT.withName("left"),
            ValueLayout.JAVA_INT.withName("right"),
            ValueLayout.JAVA_INT.withName("priority"),
            ValueLayout.JAVA_INT.withName("objects"),
            ValueLayout.JAVA_INT.withName("freeObjects"),
            ValueLayout.JAVA_INT.withName("listNext"),
            ValueLayout.JAVA_INT.withName("listPrev"),
            MemoryLayout.paddingLayout(4),
            MemoryLayout.sequenceLayout(BITMAP_WORDS, ValueLayout.JAVA_LONG).withName("freeBits"));

    static final long RECORD_BYTES = RECORD.byteSize();
    /** What {@link #create} copies over a record to clear it, without allocating a slice. */
    private static final MemorySegment ZERO_RECORD = MemorySegment.ofArray(new byte[(int) RECORD_BYTES]);
    private static final long START = offset("start");
    private static final long PAGES = offset("pages");
    private static final long STATE = offset("state");
    private static final long SIZE_CLASS = offset("sizeClass");
    private static final long RELEASED = offset("releasedPages");
    private static final long LEFT = offset("left");
    private static final long RIGHT = offset("right");
    private static final long PRIORITY = offset("priority");
    private static final long OBJECTS = offset("objects");
    private static final long FREE_OBJECTS = offset("freeObjects");
    private static final long LIST_NEXT = offset("listNext");
    private static final long LIST_PREV = offset("listPrev");
    private static final long FREE_BITS = offset("freeBits");

    /** Address of record 0; records are read through {@link RawMemory#ALL} (see there why). */
    private final long recordsBase;
    private final MemorySegment records;
    private int highWater = 1;
    /** The last id destroyed, whose record links to the one before (0 ends the list); reused first. */
    private int unusedHead;
    private int liveRecords;
    private int seed = 0x2545F491;

    /** {@code records} must be zeroed memory of {@link #bytesFor} the maximum number of spans. */
    SpanTable(MemorySegment records) {
        this.records = records;
        this.recordsBase = records.address();
    }

    static long bytesFor(int maxSpans) {
        return (maxSpans + 1L) * RECORD_BYTES;
    }

    private static long offset(String field) {
        return RECORD.byteOffset(groupElement(field));
    }

    /**
     * A fresh record for {@code [firstPage, firstPage + count)} in the given state. Page heap lock.
     * Allocates nothing (the page heap calls it halfway through its updates, where an
     * OutOfMemoryError would leave them half done): unused ids are listed in their own records.
     */
    int create(int firstPage, int count, byte newState) {
        int id = unusedHead != 0 ? unusedHead : highWater;
        if ((id + 1) * RECORD_BYTES > records.byteSize()) {
            throw new IllegalStateException("span table full: " + id + " records");
        }
        if (unusedHead != 0) {
            unusedHead = listNext(id);
        } else {
            highWater++;
        }
        MemorySegment.copy(ZERO_RECORD, 0, records, id * RECORD_BYTES, RECORD_BYTES);
        setStart(id, firstPage);
        setPages(id, count);
        setState(id, newState);
        setPriority(id, nextPriority());
        liveRecords++;
        return id;
    }

    /** Page heap lock. The id goes on the list of unused ones, linked through {@code listNext}. */
    void destroy(int id) {
        setState(id, UNUSED);
        setPages(id, 0);
        setListNext(id, unusedHead);
        unusedHead = id;
        liveRecords--;
    }

    /** Ids ever used are in {@code [1, highWater())}; some of them may be {@link #UNUSED}. */
    int highWater() {
        return highWater;
    }

    int liveRecords() {
        return liveRecords;
    }

    /** Bytes of span records in use (metadata statistics). */
    long footprintBytes() {
        return highWater * RECORD_BYTES;
    }

    private int nextPriority() {
        // xorshift: treap priorities only need to look random.
        int x = seed;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        seed = x;
        return x;
    }

    private long at(int id, long field) {
        return recordsBase + id * RECORD_BYTES + field;
    }

    int start(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, START)); }
    void setStart(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, START), value); }
    int pages(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, PAGES)); }
    void setPages(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, PAGES), value); }
    byte state(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_BYTE, at(id, STATE)); }
    void setState(int id, byte value) { RawMemory.ALL.set(ValueLayout.JAVA_BYTE, at(id, STATE), value); }
    /**
     * Atomically moves a large span from state {@code expected} to {@code update} (LARGE and CACHED
     * only: their size class and padding bytes are zero, so the state word equals the state).
     */
    boolean compareAndSetState(int id, byte expected, byte update) {
        return STATE_WORD.compareAndSet(RawMemory.ALL, at(id, STATE), (int) expected, (int) update);
    }

    /**
     * Publishes a new state with release semantics, for a transition only the span's owner makes
     * (a thread cache handing a CACHED span out again as LARGE).
     */
    void setStateRelease(int id, byte update) {
        STATE_WORD.setRelease(RawMemory.ALL, at(id, STATE), (int) update);
    }

    int sizeClass(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_BYTE, at(id, SIZE_CLASS)); }
    void setSizeClass(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_BYTE, at(id, SIZE_CLASS), (byte) value); }
    int releasedPages(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, RELEASED)); }
    void setReleasedPages(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, RELEASED), value); }
    int left(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, LEFT)); }
    void setLeft(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, LEFT), value); }
    int right(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, RIGHT)); }
    void setRight(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, RIGHT), value); }
    int priority(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, PRIORITY)); }
    void setPriority(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, PRIORITY), value); }
    int objects(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, OBJECTS)); }
    void setObjects(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, OBJECTS), value); }
    int freeObjects(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, FREE_OBJECTS)); }
    void setFreeObjects(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, FREE_OBJECTS), value); }
    int listNext(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, LIST_NEXT)); }
    void setListNext(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, LIST_NEXT), value); }
    int listPrev(int id) { return RawMemory.ALL.get(ValueLayout.JAVA_INT, at(id, LIST_PREV)); }
    void setListPrev(int id, int value) { RawMemory.ALL.set(ValueLayout.JAVA_INT, at(id, LIST_PREV), value); }
    long freeBits(int id, int word) { return RawMemory.ALL.get(ValueLayout.JAVA_LONG, at(id, FREE_BITS) + word * 8L); }
    void setFreeBits(int id, int word, long value) { RawMemory.ALL.set(ValueLayout.JAVA_LONG, at(id, FREE_BITS) + word * 8L, value); }
}
