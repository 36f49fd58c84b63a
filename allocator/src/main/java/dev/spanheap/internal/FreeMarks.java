package dev.spanheap.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How a small object that no user has is marked free, so that a free that finds the mark already
 * there is refused as a double free, at the cost of one load and one compare:
 * <ul>
 *   <li>an object under {@link #GRANULE} (128) bytes holds a cookie in its first eight bytes: its
 *       address XOR a per-heap random key (mimalloc's encoded free pointers play the same part);
 *   <li>an object of 128 B up to a page (classes from {@link #FIRST_FLAGGED_CLASS}) has a flag
 *       byte in a side table, one byte per 128 B of the reservation, at the granule its object
 *       starts in. No two such objects start in one granule;
 *   <li>an object of a page or more (classes from {@link #FIRST_PAGE_FLAGGED_CLASS}) has a bit in
 *       the page-map entry of the page it starts in ({@link PageMap#FREE_BIT}), which the free path
 *       reads anyway. No two such objects start in one page.
 * </ul>
 * The memory of an object of 128 B or more is never touched.
 * Why flags: a buffer freed long after its last use is cold, and reading its cookie was a cache
 * miss on every free. In {@code NettyPatternBenchmark} (8192 live buffers, a random one replaced
 * each time) it was 52% of a replacement's time with buffers of up to 64 KiB, before objects of a
 * page or more had flags; with buffers of up to 4 KiB a replacement took 22-24 ns with cookies and
 * 17 with flags from 128 B (JMH, two alternating runs). Cutting a span also wrote every object's
 * cookie, so its pages became resident before any user wrote them. Objects of a page or more keep
 * a table of their own, 64 times denser: with one flag per 128 B for them too, 8192 buffers of up
 * to 64 KiB had their flags on as many lines, and a replacement took 49-53 ns against 45-47.
 * Objects under 128 B keep the cookie: a flag per 16 B would be 6% of their memory.
 *
 * <p>Why objects of a page or more moved their flag into the page map: their flags had a table of
 * one byte per page, where one cache line covers 512 KiB of the heap, so two threads whose blocks
 * were near each other wrote one line on every allocate and free. Two threads doing 64 KiB-1 MiB
 * pairs on one heap took 14.0-17.2 ns per pair each (6 forks) against 10.7 for one thread. A line of
 * page-map entries covers 64 KiB, no more than one such object, and a free reads the entry anyway,
 * so the mark costs no line of its own.
 *
 * <p>The flag table is 1/128 of the reservation, resident only where flagged spans have been: at
 * most 0.8% of the heap's committed memory, which the statistics count as span metadata.
 *
 * <p>Invariant: every small object that is not allocated carries its mark, whichever structure
 * has it (a span's bitmap, a transfer stack, a thread cache). Allocation clears it; free writes it;
 * and {@link #markSpanFree} marks every object of a span when the span is cut from the page heap,
 * so an address that no allocation has handed out since the pages were cut, a stale address from
 * an earlier life of those pages among them, is refused like any double free (objects of a page or
 * more get their marks with the span's page-map entries, {@link PageMap#setSmall}). A flag byte
 * whose granule starts no object of a flagged span means nothing: nothing reads it. The bit of an
 * entry whose page starts no such object stays clear ({@link PageHeap#verify()} checks it).
 *
 * <p>The fast paths ({@code Heap}'s allocate and free, {@code ThreadCache}'s free) write the same
 * reads and writes out themselves, through {@link #key}, {@link #flagBias} and
 * {@link #entryBias}. As static helpers they were 37-55 bytes of bytecode, past C2's 35-byte
 * limit for call sites it does not find hot, and {@code -XX:+PrintInlining} showed the take-back
 * in a full class's free left as a call: a call on a rare branch of an allocation loop costs the
 * whole loop its registers.
 */
final class FreeMarks {

    /**
     * The first word of a block. Unaligned on purpose: blocks are 8-byte aligned by construction,
     * and the unaligned layout spares the fast paths a run-time alignment check per access (x86-64
     * and aarch64 load and store it with the same instruction).
     */
    static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;
    /** The page-map entry that holds the mark of an object of a page or more. */
    static final ValueLayout.OfLong ENTRY = PageMap.ENTRY;
    /** A flag of the side table: 1 while the object that starts in its granule is free. */
    static final ValueLayout.OfByte FLAG = ValueLayout.JAVA_BYTE;
    static final byte FREE = 1;
    static final byte ALLOCATED = 0;
    /** log2 of {@link #GRANULE}. */
    static final int FLAG_SHIFT = 7;
    /** The bytes of the reservation that one flag stands for; the smallest object that has a flag. */
    static final int GRANULE = 1 << FLAG_SHIFT;
    /** The first size class whose objects are a granule or more, marked by flag rather than cookie. */
    static final int FIRST_FLAGGED_CLASS = firstClassOfAtLeast(GRANULE);
    /** The first size class whose objects are a page or more, marked in their page-map entries. */
    static final int FIRST_PAGE_FLAGGED_CLASS = firstClassOfAtLeast(Pages.SIZE);

    /** Odd, so that no address maps to the cookie 0 that allocation leaves behind. */
    final long key = ThreadLocalRandom.current().nextLong() | 1;
    /**
     * The flag of an object under a page at {@code address} is at {@code flagBias + (address >>>
     * FLAG_SHIFT)}: the table's address less the heap's first granule number, so that the fast paths
     * add and shift.
     */
    final long flagBias;
    /**
     * The page-map entry of an object of a page or more at {@code address} is at
     * {@code PageMap.entryAddress(entryBias, address)} ({@link PageMap#entryBias}).
     */
    final long entryBias;

    /** Maps the flag table for {@code pageHeap}'s reservation beside it (zeroed: nothing is free yet). */
    FreeMarks(PageHeap pageHeap) {
        MemorySegment granules = pageHeap.space().mapMetadata(pageHeap.reservedBytes() >>> FLAG_SHIFT);
        this.flagBias = granules.address() - (pageHeap.base() >>> FLAG_SHIFT);
        this.entryBias = PageMap.entryBias(pageHeap.pageMap.address(), pageHeap.base());
    }

    /** The bytes of flags that {@code heapBytes} of the reservation have. */
    static long bytesFor(long heapBytes) {
        return heapBytes >>> FLAG_SHIFT;
    }

    private static int firstClassOfAtLeast(long bytes) {
        int c = 1;
        while (SizeClasses.SIZE[c] < bytes) {
            c++;
        }
        return c;
    }

    /** Whether objects of class {@code c} are marked by flag or by page-map entry: not by cookie. */
    static boolean isFlagged(int c) {
        return c >= FIRST_FLAGGED_CLASS;
    }

    /** Whether objects of class {@code c} are marked in their page-map entry. */
    static boolean isMarkedInEntry(int c) {
        return c >= FIRST_PAGE_FLAGGED_CLASS;
    }

    long cookieOf(long address) {
        return address ^ key;
    }

    /**
     * Where the mark of the object of flagged class {@code c} at {@code address} is: its flag byte,
     * or for a page or more its page-map entry.
     */
    long flagAddress(long address, int c) {
        return flagAddress(flagBias, entryBias, address, c);
    }

    /**
     * {@link #flagAddress(long, int)} from the two biases, for the fast paths that keep copies of
     * them (small enough for C2 to inline anywhere).
     */
    static long flagAddress(long flagBias, long entryBias, long address, int c) {
        return c >= FIRST_PAGE_FLAGGED_CLASS
                ? PageMap.entryAddress(entryBias, address) : flagBias + (address >>> FLAG_SHIFT);
    }

    /** Whether the object of class {@code c} at {@code address} carries its mark, that is, is free. */
    boolean isFree(long address, int c) {
        if (isMarkedInEntry(c)) {
            return (RawMemory.ALL.get(ENTRY, flagAddress(address, c)) & PageMap.FREE_BIT) != 0;
        }
        return isFlagged(c)
                ? RawMemory.ALL.get(FLAG, flagAddress(address, c)) == FREE
                : RawMemory.ALL.get(WORD, address) == cookieOf(address);
    }

    /** Marks the object of class {@code c} at {@code address} free. */
    void markFree(long address, int c) {
        if (isMarkedInEntry(c)) {
            long entry = flagAddress(address, c);
            RawMemory.ALL.set(ENTRY, entry, RawMemory.ALL.get(ENTRY, entry) | PageMap.FREE_BIT);
        } else if (isFlagged(c)) {
            RawMemory.ALL.set(FLAG, flagAddress(address, c), FREE);
        } else {
            RawMemory.ALL.set(WORD, address, cookieOf(address));
        }
    }

    /** Clears the mark of the object of class {@code c} at {@code address}: it is allocated from now on. */
    void markAllocated(long address, int c) {
        if (isMarkedInEntry(c)) {
            long entry = flagAddress(address, c);
            RawMemory.ALL.set(ENTRY, entry, RawMemory.ALL.get(ENTRY, entry) & ~PageMap.FREE_BIT);
        } else if (isFlagged(c)) {
            RawMemory.ALL.set(FLAG, flagAddress(address, c), ALLOCATED);
        } else {
            RawMemory.ALL.set(WORD, address, 0L);
        }
    }

    /**
     * Marks free each of {@code objects} objects of class {@code c} from {@code spanBase}, for a
     * span being cut; a class of a page or more gets its marks from {@link PageMap#setSmall}.
     */
    void markSpanFree(long spanBase, int c, int objects) {
        if (isMarkedInEntry(c)) {
            return;
        }
        long size = SizeClasses.SIZE[c];
        for (int i = 0; i < objects; i++) {
            markFree(spanBase + i * size, c);
        }
    }
}
