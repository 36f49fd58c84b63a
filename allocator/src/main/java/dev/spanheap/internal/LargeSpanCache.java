package dev.spanheap.internal;

/**
 * A thread's cache of freed large spans (Go's per-P page cache plays this part): spans of up to
 * {@link #MAX_PAGES} pages kept whole, at most {@link #DEPTH} per length, so that a large allocate
 * and free on one thread take no lock. The spans are in state CACHED (see {@link LargeBlocks}); only
 * this cache moves them out of it. Every block of up to 1 MiB has a size class (page-aligned ones
 * too), so the spans kept here come from sampled blocks (a sample takes a span of its own, see
 * {@link SampledAllocations}) and from blocks aligned past a page, and serve the next samples.
 *
 * <p>Paid from its own share of the owning cache's budget: {@code bytes <= budgetBytes <=} a
 * {@link #BUDGET_SHARE}-th of the per-cache budget, so that kept spans cannot crowd out the small
 * classes nor they these. Owned by one thread, like its {@link ThreadCache}; counters are read
 * without a lock by statistics.
 */
final class LargeSpanCache {

    /** The longest span kept: 128 pages, 1 MiB. */
    static final int MAX_PAGES = 128;
    /** Spans kept per length. */
    static final int DEPTH = 8;
    /** Kept spans may use one {@code BUDGET_SHARE}-th of the per-cache budget, up to {@link #MAX_BUDGET_BYTES}. */
    static final int BUDGET_SHARE = 4;
    /**
     * The most kept spans may use however large the per-cache budget: they serve only samples and
     * blocks aligned past a page, and what a cache holds is memory no other thread can use.
     */
    static final long MAX_BUDGET_BYTES = 1 << 20;

    /** Kept spans by length: ids at {@code pages * DEPTH + i}, counts in {@link #depth}. */
    private final int[] spanIds = new int[(MAX_PAGES + 1) * DEPTH];
    private final int[] depth = new int[MAX_PAGES + 1];
    private final CacheBudget budget;
    private final PageHeap pageHeap;
    /** Bytes of kept spans. */
    private long bytes;
    /** Budget held for them. */
    private long budgetBytes;
    /**
     * Blocks freed into this cache, and their bytes. Nothing counted leaves it: a kept span goes out
     * again only as a sample, which the profiler counts.
     */
    private long frees;
    private long freeBytes;

    LargeSpanCache(CacheBudget budget, PageHeap pageHeap) {
        this.budget = budget;
        this.pageHeap = pageHeap;
    }

    /** The most of the per-cache budget kept spans may ever use. */
    static long budgetCap(CacheBudget budget) {
        return capOf(budget.perCacheBytes());
    }

    /**
     * What kept spans may use of a cache's {@code share} of the pool now ({@link CacheBudget#shareCap}):
     * a quarter of it, at most {@link #MAX_BUDGET_BYTES}, so that the classes always keep three
     * quarters however many caches share the pool.
     */
    static long capOf(long share) {
        return Math.min(MAX_BUDGET_BYTES, share / BUDGET_SHARE);
    }

    /** Whether a freed span of {@code pages} pages can be kept, asking for budget if needed. */
    boolean hasRoom(int pages) {
        if (pages > MAX_PAGES || depth[pages] == DEPTH) {
            return false;
        }
        long spanBytes = (long) pages << Pages.SHIFT;
        if (bytes + spanBytes > budgetBytes) {
            budgetBytes += budget.requestChunk(capOf(budget.shareCap()) - budgetBytes, bytes + spanBytes - budgetBytes);
        }
        return bytes + spanBytes <= budgetBytes;
    }

    /**
     * Keeps freed span {@code span} (already CACHED); call after {@link #hasRoom}. {@code counted}:
     * whether its block counts as a large free here (a sampled block's free is the profiler's to count).
     */
    void push(int span, int pages, boolean counted) {
        long spanBytes = (long) pages << Pages.SHIFT;
        spanIds[pages * DEPTH + depth[pages]++] = span;
        bytes += spanBytes;
        if (counted) {
            frees++;
            freeBytes += spanBytes;
        }
    }

    /**
     * A kept span of exactly {@code pages} pages (still CACHED) for a sampled block, or 0. The
     * profiler counts that block; this cache does not.
     */
    int pop(int pages) {
        if (pages > MAX_PAGES || depth[pages] == 0) {
            return 0;
        }
        bytes -= (long) pages << Pages.SHIFT;
        return spanIds[pages * DEPTH + --depth[pages]];
    }

    /** Adds the frees through this cache and their bytes to {@code into[0]} and {@code into[1]}. */
    void addFrees(long[] into) {
        into[0] += frees;
        into[1] += freeBytes;
    }

    long cachedBytes() {
        return bytes;
    }

    /** How many spans this cache keeps. */
    int spanCount() {
        int count = 0;
        for (int pages = 1; pages <= MAX_PAGES; pages++) {
            count += depth[pages];
        }
        return count;
    }

    long budgetBytes() {
        return budgetBytes;
    }

    /** Returns every kept span to the page heap and the budget to the heap. */
    void flush() {
        for (int pages = 1; pages <= MAX_PAGES; pages++) {
            while (depth[pages] > 0) {
                pageHeap.free(spanIds[pages * DEPTH + --depth[pages]]);
            }
        }
        bytes = 0;
        budget.giveBack(budgetBytes);
        budgetBytes = 0;
    }

    /** Checks that every kept span is CACHED and as long as its list says, and the byte counts. */
    void verify() {
        long counted = 0;
        for (int pages = 1; pages <= MAX_PAGES; pages++) {
            for (int i = 0; i < depth[pages]; i++) {
                int span = spanIds[pages * DEPTH + i];
                Invariants.check(pageHeap.spans.state(span) == SpanTable.CACHED && pageHeap.spans.pages(span) == pages,
                        "cached large span %d: state %d, %d pages in the %d-page list", span,
                        pageHeap.spans.state(span), pageHeap.spans.pages(span), pages);
                counted += (long) pages << Pages.SHIFT;
            }
        }
        Invariants.check(counted == bytes && bytes <= budgetBytes && budgetBytes <= budgetCap(budget),
                "large span cache: %d bytes kept (tracked %d) of budget %d, cap %d", counted, bytes, budgetBytes,
                budgetCap(budget));
    }

    /** Bytes of Java heap the arrays take (metadata statistics). */
    static long footprintBytes() {
        return (MAX_PAGES + 1) * (DEPTH + 1) * 4L;
    }
}
