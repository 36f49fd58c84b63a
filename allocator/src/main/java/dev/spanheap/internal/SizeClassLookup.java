package dev.spanheap.internal;

import java.util.Arrays;

/**
 * Size to size class, and whether an offset in a span is an object's start: the table lookups the
 * fast paths use instead of division. Built once from the generated {@link SizeClasses}.
 */
final class SizeClassLookup {

    /**
     * Per page-map class byte (256 entries, so indexing it needs no bounds check): {@code
     * ceil(2^64 / SIZE[c])} for a size class, 0 otherwise. An offset {@code n < 2^32} from the start
     * of a span of class {@code c} is an object's start exactly when {@code n * BLOCK_START[c]},
     * taken mod 2^64, is below {@code BLOCK_START[c]} as unsigned numbers (Lemire, Kaser and Kurz,
     * "Faster remainder by direct computation", 2019): one multiply and one compare, and class 0
     * (a large span) fails it by itself.
     */
    private static final long[] BLOCK_START = new long[1 << PageMap.CLASS_BITS];

    /**
     * Class by {@code (size + 7) / 8} for every size up to 1 MiB (131073 entries, padded to a power
     * of two: 256 KiB, of which a program touches only the lines of the sizes it uses), expanded from
     * Go's two tables (SizeClasses' step-8 and step-128 tables).
     */
    private static final byte[] CLASS_BY_SIZE = new byte[2 * SizeClasses.MAX_SMALL_SIZE / 8];

    /** Entries of {@link #CLASS_BY_SIZE} per entry of the step-128 table. */
    private static final int PER_STEP_128 = 128 / 8;

    static {
        // Up to 1 KiB the step-8 table is this table's start. Past it, step-128 entry j holds the
        // sizes in (1024 + 128 (j - 1), 1024 + 128 j]: a range of 16 entries here. Filled by range,
        // not size by size: class initialization runs in the interpreter, where a loop over all
        // 131073 sizes took 13-21 ms of the first heap's creation.
        System.arraycopy(SizeClasses.SIZE_TO_CLASS_8, 0, CLASS_BY_SIZE, 0, SizeClasses.SMALL_SIZE_MAX / 8 + 1);
        int steps = (SizeClasses.MAX_SMALL_SIZE - SizeClasses.SMALL_SIZE_MAX) / 128;
        for (int j = 1; j <= steps; j++) {
            int from = SizeClasses.SMALL_SIZE_MAX / 8 + 1 + (j - 1) * PER_STEP_128;
            Arrays.fill(CLASS_BY_SIZE, from, from + PER_STEP_128, SizeClasses.SIZE_TO_CLASS_128[j]);
        }
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            BLOCK_START[c] = Long.divideUnsigned(-1L, SizeClasses.SIZE[c]) + 1;
        }
    }

    private SizeClassLookup() {
    }

    /**
     * Size to class for {@code size} in [0, 1 MiB]: one table lookup, no division and no branch
     * (a mix of sizes costs no mispredictions), and no bounds check (the index is masked to the
     * padded table's length).
     */
    static int sizeClassOf(long size) {
        return CLASS_BY_SIZE[(((int) size + 7) >>> 3) & (CLASS_BY_SIZE.length - 1)];
    }

    /** The smallest class that holds {@code size} bytes at {@code alignment}, or 0 for the page heap. */
    static int smallClassFor(long size, long alignment) {
        if (size > SizeClasses.MAX_SMALL_SIZE || alignment > Pages.SIZE) {
            return 0;
        }
        // An object of class c starts at a multiple of SIZE[c] from a page boundary.
        for (int c = sizeClassOf(size); c < SizeClasses.COUNT; c++) {
            if ((SizeClasses.SIZE[c] & (alignment - 1)) == 0) {
                return c;
            }
        }
        return 0;
    }

    /**
     * Whether {@code spanOffset} (below 2^32) is the start of an object in a span of page-map class
     * byte {@code c}; false for class 0 and for values that are no size class.
     */
    static boolean isBlockStart(int c, long spanOffset) {
        long startTest = BLOCK_START[c & ((1 << PageMap.CLASS_BITS) - 1)];
        return Long.compareUnsigned(spanOffset * startTest, startTest) < 0;
    }
}
