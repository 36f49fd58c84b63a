package dev.spanheap.internal;

import java.util.Comparator;
import java.util.List;

/**
 * The plan of a goal-driven release on a heap that asks for transparent huge pages: which free pages
 * to give back without breaking up a dense huge page (see {@link PageHeap#release(long, boolean)}).
 *
 * <p>The heap's base is 2 MiB-aligned, so each 2 MiB stretch of pages is one huge page when the
 * kernel backs it with one. Releasing part of a stretch breaks its huge page into small ones, and
 * every later access to the rest then walks the small pages' table; releasing none of a stretch
 * keeps its free pages resident. So the plan takes, largest runs first:
 * <ol>
 *   <li>every stretch that is wholly free (and not yet released);</li>
 *   <li>if that is short of the bytes asked for, the free pages of stretches at least
 *       {@link #SPARSE_STRETCH_FREE_PAGES} free, whose huge pages are worth less than their memory
 *       (Go's scavenger likewise spares only its dense huge pages).</li>
 * </ol>
 * Denser stretches keep their free pages until {@code releaseMemory} or the soft limit.
 *
 * <p>The plan is a list of {id, first page, pages} ranges, as in {@link ReleasePlan#ranges}: each
 * range inside free run {@code id} and not yet released, and the ranges of one run next to each
 * other. Everything here runs under the page heap's lock.
 */
final class HugePageReleases {

    /** The kernel's transparent huge page (2 MiB) in pages. */
    static final int HUGE_PAGE_PAGES = (int) ((2L << 20) >>> Pages.SHIFT);

    /**
     * Free pages of a stretch at least this many pages free may be released, breaking its huge page:
     * a quarter of it. Measured (the fragmentation workload of {@code ./compare memory}, peak RSS;
     * the Netty pattern with 0-64 KiB buffers, 2 forks; one or two rounds each): a half gave peaks of
     * 354 and 352 MiB and 32.2 and 31.1 ns per replacement; a quarter 331 and 331 MiB and 30.0 and
     * 32.9 ns; an eighth 321 MiB and 34.0 ns; a sixteenth 315 MiB and 38.3 ns, most of the huge
     * pages' gain gone (small pages: 319-322 MiB, 40-42 ns). Releasing only wholly free stretches
     * kept 332 MiB at the end of the fragmentation workload, against 84 with small pages: nearly every
     * stretch still held one long-lived block.
     */
    static final int SPARSE_STRETCH_FREE_PAGES = HUGE_PAGE_PAGES / 4;

    private HugePageReleases() {
    }

    /**
     * Plans a release of up to {@code maxBytes} (a wholly free stretch may take it past that: half of
     * one would break it) from {@code runs}, the free runs as (pages, id) sorted by length, into
     * {@code taken}.
     */
    static void plan(SpanTable spans, PageBits released, int committedPages, long[] runs, long maxBytes,
                     List<long[]> taken) {
        long planned = 0;
        for (int i = runs.length - 1; i >= 0 && planned < maxBytes; i--) {
            planned = planWholeStretches(spans, released, (int) runs[i], maxBytes, planned, taken);
        }
        if (planned < maxBytes) {
            int[] freeInStretch = new int[(committedPages + HUGE_PAGE_PAGES - 1) / HUGE_PAGE_PAGES];
            for (long run : runs) {
                int start = spans.start((int) run);
                int end = start + spans.pages((int) run);
                for (int page = start; page < end; page = stretchEnd(page)) {
                    freeInStretch[page / HUGE_PAGE_PAGES] += Math.min(end, stretchEnd(page)) - page;
                }
            }
            for (int i = runs.length - 1; i >= 0 && planned < maxBytes; i--) {
                planned = planSparseStretches(spans, released, (int) runs[i], maxBytes, planned, taken, freeInStretch);
            }
            // The second pass may add to a run that the first pass planned before others.
            taken.sort(Comparator.<long[]>comparingLong(range -> range[0]).thenComparingLong(range -> range[1]));
        }
    }

    /** The first page past the stretch that holds {@code page}. */
    private static int stretchEnd(int page) {
        return (page / HUGE_PAGE_PAGES + 1) * HUGE_PAGE_PAGES;
    }

    /** The not yet released ranges of each stretch that lies wholly inside free run {@code id}. */
    private static long planWholeStretches(SpanTable spans, PageBits released, int id, long maxBytes, long planned,
                                           List<long[]> taken) {
        int start = spans.start(id);
        int end = start + spans.pages(id);
        int first = (start + HUGE_PAGE_PAGES - 1) / HUGE_PAGE_PAGES * HUGE_PAGE_PAGES;
        for (int stretch = first; stretch + HUGE_PAGE_PAGES <= end && planned < maxBytes; stretch += HUGE_PAGE_PAGES) {
            // Whole, whatever maxBytes allows: half of a stretch would break its huge page.
            planned = ReleasePlan.planUnreleased(released, id, stretch, stretch + HUGE_PAGE_PAGES, Long.MAX_VALUE,
                    planned, taken);
        }
        return planned;
    }

    /**
     * The not yet released ranges of free run {@code id} in stretches at least
     * {@link #SPARSE_STRETCH_FREE_PAGES} but not wholly free ({@code freeInStretch} counts each
     * stretch's free pages; wholly free ones were planned already).
     */
    private static long planSparseStretches(SpanTable spans, PageBits released, int id, long maxBytes, long planned,
                                            List<long[]> taken, int[] freeInStretch) {
        int start = spans.start(id);
        int end = start + spans.pages(id);
        for (int page = start; page < end && planned < maxBytes; page = stretchEnd(page)) {
            int free = freeInStretch[page / HUGE_PAGE_PAGES];
            if (free >= SPARSE_STRETCH_FREE_PAGES && free < HUGE_PAGE_PAGES) {
                // Its part of the stretch whole: the plan of a sparse stretch is not cut short either.
                planned = ReleasePlan.planUnreleased(released, id, page, Math.min(end, stretchEnd(page)),
                        Long.MAX_VALUE, planned, taken);
            }
        }
        return planned;
    }
}
