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
 *   <li>an object of 128 B or more (classes from {@link #FIRST_FLAGGED_CLASS}) has a flag byte in a
 *       side table, one byte per 128 B of the reservation, at the granule its object starts in. No
 *       two such objects start in one granule.
 * </ul>
 * The memory of an object of 128 B or more is never touched.
 * Why flags: a buffer freed long after its last use is cold, and reading its cookie was a cache
 * miss on every free. In {@code NettyPatternBenchmark} (8192 live buffers, a random one replaced
 * each time) it was 52% of a replacement's time with buffers of up to 64 KiB, before objects of a
 * page or more had flags; with buffers of up to 4 KiB a replacement took 22-24 ns with cookies and
 * 17 with flags from 128 B (JMH, two alternating runs). Cutting a span also wrote every object's
 * cookie, so its pages became resident before any user wrote them. Objects under 128 B keep the
 * cookie: a flag per 16 B would be 6% of their memory.
 *
 * <p>Why one table for every flagged object: a flag's address is then the same sum for every class
 * ({@link #flagAddress}), with no branch on the class. Objects of a page or more once kept their
 * flags elsewhere (a table of one flag per page, then a bit of their page-map entry), and the fast
 * paths chose by class. Random sizes on both sides of a page mispredicted that choice on allocate
 * and free: {@code NettyPatternBenchmark} through {@code localHeap()} took 28.6 ns a replacement
 * with buffers of up to 16 KiB, against 17.8 with this table (JMH, 2 forks each); a free that
 * computed the address without a branch had to wait for the page-map entry's class before it could
 * load the flag (buffers of up to 4 KiB, 15.3 ns against 13.1). A table of one flag per page also
 * put 64 pages' flags on one cache line, which two threads' neighbouring blocks both wrote; here a
 * line of flags covers 8 KiB, so no two objects of a page or more share one.
 *
 * <p>The flag table is 1/128 of the reservation, resident only where flagged spans have been and
 * their pages were not released since (a release gives their flags back, see
 * {@link MetadataReleases}): at most 0.8% of the heap's committed memory, which the statistics
 * count as span metadata.
 *
 * <p>Invariant: every small object that is not allocated carries its mark, whichever structure
 * has it (a span's bitmap, a transfer stack, a thread cache). Allocation clears it; free writes it;
 * and {@link #markSpanFree} marks every object of a span when the span is cut from the page heap,
 * so an address that no allocation has handed out since the pages were cut, a stale address from
 * an earlier life of those pages among them, is refused like any double free. A flag byte whose
 * granule starts no object of a flagged span means nothing: nothing reads it.
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
    /**
     * A flag of the side table: {@link #FREE} (0) while the object that starts in its granule is
     * free. Free is 0 so that the flags of released pages, which {@link MetadataReleases} gives back
     * and which then read as 0, refuse a stale free that raced the release as a double free.
     */
    static final ValueLayout.OfByte FLAG = ValueLayout.JAVA_BYTE;
    static final byte FREE = 0;
    static final byte ALLOCATED = 1;
    /** log2 of {@link #GRANULE}. */
    static final int FLAG_SHIFT = 7;
    /** The bytes of the reservation that one flag stands for; the smallest object that has a flag. */
    static final int GRANULE = 1 << FLAG_SHIFT;
    /** The first size class whose objects are a granule or more, marked by flag rather than cookie. */
    static final int FIRST_FLAGGED_CLASS = firstClassOfAtLeast(GRANULE);

    /** Odd, so that no address maps to the cookie 0 that allocation leaves behind. */
    final long key = ThreadLocalRandom.current().nextLong() | 1;
    /**
     * The flag of an object at {@code address} is at {@code flagBias + (address >>> FLAG_SHIFT)}: the
     * table's address less the heap's first granule number, so that the fast paths add and shift.
     */
    final long flagBias;

    /**
     * Where the flag table starts in its mapping, in bytes. The flags of page-aligned blocks are 32
     * bytes apart (one per 128 B); from a page-aligned table, those of blocks at a multiple of
     * 512 KiB from the heap's base (every heap's first block among them) would sit at the start of a
     * 4 KiB page, as the blocks' first bytes do, and the free's load of the flag would wait for the
     * caller's store into the block just before it (a "4K alias", see
     * {@link AddressSpace#PAGE_MAP_SKEW}). From 16, no page-aligned block's flag shares the low 12
     * bits of its first word.
     */
    static final long TABLE_SKEW = 16;

    /**
     * Maps the flag table for {@code pageHeap}'s reservation beside it (zeroed: every flag reads free,
     * and cutting a span marks its objects anyway) and tells the page heap where it is, so that
     * releases give back the flags of the pages they release.
     */
    FreeMarks(PageHeap pageHeap) {
        MemorySegment granules = pageHeap.space().mapMetadata(TABLE_SKEW + (pageHeap.reservedBytes() >>> FLAG_SHIFT));
        this.flagBias = granules.address() + TABLE_SKEW - (pageHeap.base() >>> FLAG_SHIFT);
        pageHeap.metadataReleases().attachFlagTable(granules.address() + TABLE_SKEW);
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

    /** Whether objects of class {@code c} are marked by flag, not by cookie. */
    static boolean isFlagged(int c) {
        return c >= FIRST_FLAGGED_CLASS;
    }

    long cookieOf(long address) {
        return address ^ key;
    }

    /** Where the flag of the object of a flagged class at {@code address} is. */
    long flagAddress(long address) {
        return flagAddress(flagBias, address);
    }

    /** {@link #flagAddress(long)} from a copy of {@link #flagBias}, for the fast paths that keep one. */
    static long flagAddress(long flagBias, long address) {
        return flagBias + (address >>> FLAG_SHIFT);
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

    /** Marks free each of {@code objects} objects of class {@code c} from {@code spanBase}, for a span being cut. */
    void markSpanFree(long spanBase, int c, int objects) {
        long size = SizeClasses.SIZE[c];
        for (int i = 0; i < objects; i++) {
            markFree(spanBase + i * size, c);
        }
    }
}
