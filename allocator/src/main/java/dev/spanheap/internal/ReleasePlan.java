package dev.spanheap.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Which free pages one release gives back, and which metadata goes with them: planned under the
 * page heap's lock, then applied by {@link PageHeap#release(long, boolean)} with the lock dropped for
 * the {@code madvise} calls.
 *
 * <p>Planning allocates (these lists) and changes nothing; applying allocates nothing. So an
 * {@link OutOfMemoryError} while planning leaves every free run as it was.
 */
final class ReleasePlan {

    /**
     * The ranges to release, {id, first page, pages} each: inside free run {@code id}, not yet
     * released, the ranges of one run next to each other.
     */
    final List<long[]> ranges = new ArrayList<>();
    /** For each of {@link #ranges}, the metadata pages to give back with it (see {@link MetadataReleases}). */
    final List<List<long[]>> metadata = new ArrayList<>();

    private ReleasePlan() {
    }

    /**
     * Plans the release of up to {@code maxBytes} of the free runs' pages, largest runs first; with
     * {@code wholeHugePages}, only as {@link HugePageReleases} allows. Page heap lock held.
     */
    static ReleasePlan of(SpanTable spans, FreeRuns freeRuns, PageBits released, int committedPages,
                          MetadataReleases metadataReleases, long maxBytes, boolean wholeHugePages) {
        ReleasePlan plan = new ReleasePlan();
        // (pages, id) packed in a long sorts by length.
        long[] runs = new long[freeRuns.size()];
        int[] count = {0};
        freeRuns.forEach(id -> runs[count[0]++] = ((long) spans.pages(id) << 32) | id);
        Arrays.sort(runs);
        if (wholeHugePages) {
            HugePageReleases.plan(spans, released, committedPages, runs, maxBytes, plan.ranges);
        } else {
            long planned = 0;
            for (int i = runs.length - 1; i >= 0 && planned < maxBytes; i--) {
                int id = (int) runs[i];
                planned = planUnreleased(released, id, spans.start(id), spans.start(id) + spans.pages(id), maxBytes,
                        planned, plan.ranges);
            }
        }
        for (long[] range : plan.ranges) {
            plan.metadata.add(metadataOf(spans, released, metadataReleases, range));
        }
        return plan;
    }

    /**
     * Adds the not yet released ranges of pages {@code [from, to)} of free run {@code id} to
     * {@code ranges}, {id, first page, pages} each, up to {@code maxBytes} planned in all (the last
     * range cut short to fit); returns the bytes planned so far.
     */
    static long planUnreleased(PageBits released, int id, int from, int to, long maxBytes, long planned,
                               List<long[]> ranges) {
        int page = released.next(from, to, false);
        while (page < to && planned < maxBytes) {
            int stop = released.next(page, to, true);
            stop = (int) Math.min(stop, page + ((maxBytes - planned + Pages.SIZE - 1) >>> Pages.SHIFT));
            ranges.add(new long[] {id, page, stop - page});
            planned += (long) (stop - page) << Pages.SHIFT;
            page = released.next(stop, to, false);
        }
        return planned;
    }

    /**
     * The metadata to give back with {@code range} {id, first page, pages} of a free run (see
     * {@link MetadataReleases}), extended over the run's pages on either side that were released
     * before.
     */
    private static List<long[]> metadataOf(SpanTable spans, PageBits released, MetadataReleases metadataReleases,
                                           long[] range) {
        int id = (int) range[0];
        int runStart = spans.start(id);
        int runEnd = runStart + spans.pages(id);
        int from = (int) range[1];
        int to = from + (int) range[2];
        return metadataReleases.plan(runStart, runEnd, released.last(runStart, from, false) + 1,
                released.next(to, runEnd, false));
    }
}
