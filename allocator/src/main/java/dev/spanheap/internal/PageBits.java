package dev.spanheap.internal;

import java.util.Arrays;

/**
 * One bit per committed page, growing with the heap. The page heap keeps two: which free pages are
 * released to the OS, and which free pages last held a block that was freed (to tell a double free
 * from a foreign address). Guarded by the page heap's lock.
 */
final class PageBits {

    private long[] words = new long[0];

    /** Makes room for pages {@code [0, pages)}; new pages start clear. */
    void ensureCapacity(int pages) {
        int needed = (pages + 63) >>> 6;
        if (needed > words.length) {
            words = Arrays.copyOf(words, Math.max(needed, words.length * 2));
        }
    }

    boolean get(int page) {
        return (words[page >>> 6] & (1L << page)) != 0;
    }

    void set(int page) {
        words[page >>> 6] |= 1L << page;
    }

    /** Sets pages {@code [from, from + count)}. */
    void setRange(int from, int count) {
        applyRange(from, count, true);
    }

    /** Clears pages {@code [from, from + count)}. */
    void clearRange(int from, int count) {
        applyRange(from, count, false);
    }

    /** How many of pages {@code [from, from + count)} are set. */
    int countRange(int from, int count) {
        int total = 0;
        for (int page = from, end = from + count; page < end; page = nextWord(page, end)) {
            total += Long.bitCount(words[page >>> 6] & mask(page, end));
        }
        return total;
    }

    /**
     * The first page in {@code [from, end)} whose bit equals {@code value}, or {@code end} if none.
     */
    int next(int from, int end, boolean value) {
        int page = from;
        while (page < end) {
            int word = page >>> 6;
            long bits = value ? words[word] : ~words[word];
            bits &= -1L << (page & 63);
            if (bits != 0) {
                return Math.min(end, (word << 6) + Long.numberOfTrailingZeros(bits));
            }
            page = (word + 1) << 6;
        }
        return end;
    }

    /**
     * The last page in {@code [start, end)} whose bit equals {@code value}, or {@code start - 1} if none.
     */
    int last(int start, int end, boolean value) {
        int page = end - 1;
        while (page >= start) {
            int word = page >>> 6;
            long bits = value ? words[word] : ~words[word];
            bits &= -1L >>> (63 - (page & 63));
            if (bits != 0) {
                return Math.max(start - 1, (word << 6) + 63 - Long.numberOfLeadingZeros(bits));
            }
            page = (word << 6) - 1;
        }
        return start - 1;
    }

    private void applyRange(int from, int count, boolean value) {
        for (int page = from, end = from + count; page < end; page = nextWord(page, end)) {
            if (value) {
                words[page >>> 6] |= mask(page, end);
            } else {
                words[page >>> 6] &= ~mask(page, end);
            }
        }
    }

    /** The bits of {@code page}'s word from {@code page} up to {@code end} (exclusive). */
    private static long mask(int page, int end) {
        int span = Math.min(64 - (page & 63), end - page);
        return span == 64 ? -1L : ((1L << span) - 1) << page;
    }

    /** The first page of the next word, or {@code end}. */
    private static int nextWord(int page, int end) {
        return Math.min(end, ((page >>> 6) + 1) << 6);
    }
}
