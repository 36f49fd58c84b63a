package dev.spanheap.internal;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ThreadLocalRandom;

/**
 * How a small object that no user has is marked free, so that a free that finds the mark already
 * there is refused as a double free, at the cost of one load and one compare:
 * <ul>
 *   <li>an object smaller than a page holds a cookie in its first eight bytes: its address XOR a
 *       per-heap random key (mimalloc's encoded free pointers play the same part);
 *   <li>an object of a page or more (classes from {@link #FIRST_FLAGGED_CLASS}) has a flag byte in
 *       a side table of one byte per page of the reservation, at the page its object starts in:
 *       no two such objects start in the same page. Its own memory is never touched. A buffer
 *       that has gone cold made reading its cookie a cache miss on every free: 52% of the time of
 *       a replacement in {@code NettyPatternBenchmark} (8192 live buffers of up to 64 KiB), and
 *       cutting a span wrote into every object's pages.
 * </ul>
 * The table is 1/8192 of the reservation's size, resident only where flagged spans have been.
 *
 * <p>Invariant: every small object that is not allocated carries its mark, whichever structure
 * has it (a span's bitmap, a transfer stack, a thread cache). Allocation clears it; free writes it;
 * and {@link #markSpanFree} marks every object of a span when the span is cut from the page heap,
 * so an address that no allocation has handed out since the pages were cut, a stale address from
 * an earlier life of those pages among them, is refused like any double free. A flag byte whose
 * page starts no object of a flagged span means nothing: nothing reads it.
 *
 * <p>The fast paths ({@code Heap}'s allocate and free, {@code ThreadCache}'s free) write the same
 * reads and writes out themselves, through {@link #key} and {@link #flagBias}. As static helpers
 * they were 37-55 bytes of bytecode, past C2's 35-byte limit for call sites it does not find hot,
 * and {@code -XX:+PrintInlining} showed the take-back in a full class's free left as a call: a
 * call on a rare branch of an allocation loop costs the whole loop its registers.
 */
final class FreeMarks {

    /**
     * The first word of a block. Unaligned on purpose: blocks are 8-byte aligned by construction,
     * and the unaligned layout spares the fast paths a run-time alignment check per access (x86-64
     * and aarch64 load and store it with the same instruction).
     */
    static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;
    /** A flag of the side table: 1 while the object that starts in its page is free. */
    static final ValueLayout.OfByte FLAG = ValueLayout.JAVA_BYTE;
    static final byte FREE = 1;
    static final byte ALLOCATED = 0;
    /** The first size class whose objects are a page or more, marked by flag rather than cookie. */
    static final int FIRST_FLAGGED_CLASS = firstClassOfAPage();

    /** Odd, so that no address maps to the cookie 0 that allocation leaves behind. */
    final long key = ThreadLocalRandom.current().nextLong() | 1;
    /**
     * The flag of the object at {@code address} is at {@code flagBias + (address >>> Pages.SHIFT)}:
     * the table's address less the heap's first page number, so that the fast paths add and shift.
     */
    final long flagBias;

    /** Maps the flag table for {@code pageHeap}'s reservation beside it (zeroed: nothing is free yet). */
    FreeMarks(PageHeap pageHeap) {
        MemorySegment table = pageHeap.space().mapMetadata(pageHeap.reservedBytes() >>> Pages.SHIFT);
        this.flagBias = table.address() - (pageHeap.base() >>> Pages.SHIFT);
    }

    private static int firstClassOfAPage() {
        int c = 1;
        while (SizeClasses.SIZE[c] < Pages.SIZE) {
            c++;
        }
        return c;
    }

    /** Whether objects of class {@code c} are marked by flag. */
    static boolean isFlagged(int c) {
        return c >= FIRST_FLAGGED_CLASS;
    }

    long cookieOf(long address) {
        return address ^ key;
    }

    long flagAddress(long address) {
        return flagBias + (address >>> Pages.SHIFT);
    }

    /** Whether the object of class {@code c} at {@code address} carries its mark, that is, is free. */
    boolean isFree(long address, int c) {
        return isFlagged(c)
                ? RawMemory.ALL.get(FLAG, flagAddress(address)) == FREE
                : RawMemory.ALL.get(WORD, address) == cookieOf(address);
    }

    /** Marks the object of class {@code c} at {@code address} free. */
    void markFree(long address, int c) {
        if (isFlagged(c)) {
            RawMemory.ALL.set(FLAG, flagAddress(address), FREE);
        } else {
            RawMemory.ALL.set(WORD, address, cookieOf(address));
        }
    }

    /** Clears the mark of the object of class {@code c} at {@code address}: it is allocated from now on. */
    void markAllocated(long address, int c) {
        if (isFlagged(c)) {
            RawMemory.ALL.set(FLAG, flagAddress(address), ALLOCATED);
        } else {
            RawMemory.ALL.set(WORD, address, 0L);
        }
    }

    /** Marks free each of {@code objects} objects of class {@code c} from {@code spanBase}. */
    void markSpanFree(long spanBase, int c, int objects) {
        long size = SizeClasses.SIZE[c];
        for (int i = 0; i < objects; i++) {
            markFree(spanBase + i * size, c);
        }
    }
}
