package dev.spanheap.internal;

import java.lang.foreign.ValueLayout;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The word a small object holds in its first eight bytes whenever no user has it: its address XOR
 * a per-heap random key (mimalloc's encoded free pointers play the same part). A free that finds it
 * already there is a double free, at the cost of one load and one compare.
 *
 * <p>Invariant: every small object that is not allocated holds its cookie, whichever structure
 * has it (a span's bitmap, a transfer stack, a thread cache). Allocation clears the word; free
 * writes it; and {@link #stampSpan} writes it into every object of a span when the span is cut
 * from the page heap, so an address that no allocation has handed out since the pages were cut,
 * a stale address from an earlier life of those pages among them, is refused like any double free.
 */
final class FreeCookie {

    /**
     * The first word of a block. Unaligned on purpose: blocks are 8-byte aligned by construction,
     * and the unaligned layout spares the fast paths a run-time alignment check per access (x86-64
     * and aarch64 load and store it with the same instruction).
     */
    static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;

    /** Odd, so that no address maps to the cookie 0 that allocation leaves behind. */
    final long key = ThreadLocalRandom.current().nextLong() | 1;

    long of(long address) {
        return address ^ key;
    }

    /** Whether the object at {@code address} holds its cookie, that is, is free. */
    boolean isFree(long address) {
        return RawMemory.ALL.get(WORD, address) == of(address);
    }

    /** Writes the cookie into the object at {@code address}: it is free from now on. */
    void stamp(long address) {
        RawMemory.ALL.set(WORD, address, of(address));
    }

    /** Writes the cookie into each of {@code objects} objects of {@code objectSize} bytes from {@code spanBase}. */
    void stampSpan(long spanBase, int objects, int objectSize) {
        for (int i = 0; i < objects; i++) {
            stamp(spanBase + (long) i * objectSize);
        }
    }
}
