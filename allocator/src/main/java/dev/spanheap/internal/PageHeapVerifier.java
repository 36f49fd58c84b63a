package dev.spanheap.internal;

/**
 * The page heap's invariants, checked, and its pages drawn as text: both walk the page map over the
 * committed pages. {@link PageHeap} calls them under its lock with the state they read.
 */
final class PageHeapVerifier {

    private PageHeapVerifier() {
    }

    /**
     * Throws {@link IllegalStateException} naming the first invariant that does not hold: the page
     * map covers every committed page with the record that owns it (inside any span but a
     * small-object one, with any span id or 0, see {@link PageMap}), {@code spanStarts} marks the
     * first page of each span and no other, free runs are coalesced and in
     * the tree, and the page counters ({@code counts}) match a recount; no span record outlives its
     * span, a free run has no size class, and an in-use span carries neither released pages nor
     * the marks of blocks freed before it was carved ({@code heldFreedBlocks}, which would make a
     * free into it, once it is free again, read as a double free). {@code releasesInFlight}:
     * releases between taking their runs out of the tree and putting them back.
     */
    static void verify(SpanTable spans, PageMap pageMap, FreeRuns freeRuns, PageBits released,
            PageBits heldFreedBlocks, PageBits spanStarts, PageHeap.PageCounts counts, int releasesInFlight) {
        int page = 0;
        int countedSpans = 0;
        int countedFree = 0;
        int countedReleased = 0;
        int countedRuns = 0;
        boolean previousFree = false;
        while (page < counts.committed()) {
            int id = pageMap.spanAt(page);
            Invariants.check(id > 0 && id < spans.highWater(), "page %d maps to no span (%d)", page, id);
            Invariants.check(spans.start(id) == page, "page %d starts span %d which claims start %d", page, id, spans.start(id));
            int count = spans.pages(id);
            Invariants.check(count > 0 && page + count <= counts.committed(), "span %d has bad length %d", id, count);
            countedSpans++;
            Invariants.check(spanStarts.get(page) && spanStarts.countRange(page + 1, count - 1) == 0,
                    "span %d at page %d: the span starts mark %d of its %d pages", id, page,
                    spanStarts.countRange(page, count), count);
            boolean small = spans.state(id) == SpanTable.SMALL;
            for (int p = page; p < page + count; p++) {
                long entry = pageMap.entry(p);
                if (!small && p > page && p < page + count - 1) {
                    // Inside any span but a small-object one, any entry without a class (see PageMap).
                    Invariants.check((entry & ~PageMap.SPAN_BITS) == 0,
                            "page %d inside span %d has an entry with more than a span id: 0x%x", p, id, entry);
                    continue;
                }
                Invariants.check(PageMap.span(entry) == id, "page %d inside span %d maps to %d", p, id, PageMap.span(entry));
                Invariants.check((entry & PageMap.UNUSED_BITS) == 0,
                        "page %d of span %d has an entry with bits outside its fields: 0x%x", p, id, entry);
                Invariants.check(PageMap.sizeClass(entry) == (small ? spans.sizeClass(id) : 0)
                                && PageMap.pageInSpan(entry) == (small ? p - page : 0),
                        "page %d of span %d has class %d, page-in-span %d", p, id, PageMap.sizeClass(entry),
                        PageMap.pageInSpan(entry));
            }
            byte state = spans.state(id);
            if (state == SpanTable.RELEASING) {
                // Free, out of the tree while a release madvises it without the lock (only seen by a
                // verify racing a release; with none in flight, a release that failed left it).
                Invariants.check(releasesInFlight > 0, "run %d at page %d is releasing, but no release is in flight",
                        id, page);
                countedFree += count;
                countedReleased += released.countRange(page, count);
                previousFree = false;
            } else if (state == SpanTable.FREE) {
                Invariants.check(!previousFree, "free run %d at page %d is not coalesced with its left neighbour", id, page);
                Invariants.check(spans.sizeClass(id) == 0, "free run %d keeps size class %d", id, spans.sizeClass(id));
                int releasedHere = released.countRange(page, count);
                Invariants.check(releasedHere == spans.releasedPages(id), "free run %d counts %d released pages, bitmap has %d",
                        id, spans.releasedPages(id), releasedHere);
                countedFree += count;
                countedReleased += releasedHere;
                countedRuns++;
                previousFree = true;
            } else {
                Invariants.check(state == SpanTable.LARGE || state == SpanTable.SMALL || state == SpanTable.CACHED
                                || state == SpanTable.SAMPLED,
                        "span %d has state %d", id, state);
                Invariants.check(released.countRange(page, count) == 0, "in-use span %d has pages marked released", id);
                Invariants.check(heldFreedBlocks.countRange(page, count) == 0,
                        "in-use span %d has pages marked as holding freed blocks", id);
                previousFree = false;
            }
            page += count;
        }
        Invariants.check(countedSpans == counts.spanRecords(), "span records: %d live, page walk found %d spans",
                counts.spanRecords(), countedSpans);
        Invariants.check(countedFree == counts.free(), "free pages: counter %d, recount %d", counts.free(), countedFree);
        Invariants.check(countedReleased == counts.releasedFree(), "released pages: counter %d, recount %d",
                counts.releasedFree(), countedReleased);
        Invariants.check(countedRuns == freeRuns.size(), "free runs: tree holds %d, page walk found %d",
                freeRuns.size(), countedRuns);
        freeRuns.forEach(id -> Invariants.check(spans.state(id) == SpanTable.FREE,
                "free runs hold span %d in state %d", id, spans.state(id)));
        freeRuns.verify();
    }

    /**
     * The first {@code committedPages} pages as one character each, runs separated by '|': 'L' large,
     * 'S' small, '.' free resident, 'r' free released, 'C' a freed large block kept in a thread
     * cache, 'P' a block sampled by the heap profiler.
     */
    static String describe(SpanTable spans, PageMap pageMap, PageBits released, int committedPages) {
        StringBuilder out = new StringBuilder();
        int page = 0;
        while (page < committedPages) {
            int id = pageMap.spanAt(page);
            if (page > 0) {
                out.append('|');
            }
            for (int p = page; p < page + spans.pages(id); p++) {
                out.append(switch (spans.state(id)) {
                    case SpanTable.LARGE -> 'L';
                    case SpanTable.CACHED -> 'C';
                    case SpanTable.SAMPLED -> 'P';
                    case SpanTable.SMALL -> 'S';
                    default -> released.get(p) ? 'r' : '.';
                });
            }
            page += spans.pages(id);
        }
        return out.toString();
    }
}
