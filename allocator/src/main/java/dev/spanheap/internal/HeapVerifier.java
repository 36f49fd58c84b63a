package dev.spanheap.internal;

/**
 * The checks of {@link Heap#verify()} that span the heap's structures: each structure's own
 * invariants (the page heap, every central list, every thread cache), then what must agree between
 * them: every span marked cached is kept by a cache, every sampled span is a live sample of the
 * profiler, and the caches' budget is not overdrawn. For a heap at rest (see {@code Spanheap.verify}).
 */
final class HeapVerifier {

    private HeapVerifier() {
    }

    static void verify(PageHeap pageHeap, CentralList[] centrals, ThreadCaches caches, FreeMarks marks,
            HeapProfiler profiler, CacheBudget budget) {
        pageHeap.verify();
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            centrals[c].verify();
        }
        int[] keptSpans = {0};
        caches.forEachCache(cache -> {
            cache.verify(marks);
            keptSpans[0] += cache.cachedLargeSpans();
        });
        // A span marked cached that no cache holds would never be handed out or freed again.
        int cachedSpans = pageHeap.spansInState(SpanTable.CACHED);
        Invariants.check(cachedSpans == keptSpans[0], "%d spans are marked cached, but the caches keep %d",
                cachedSpans, keptSpans[0]);
        int sampledSpans = pageHeap.spansInState(SpanTable.SAMPLED);
        Invariants.check(sampledSpans == profiler.liveSamples(),
                "%d sampled spans, but the profiler has %d live samples", sampledSpans, profiler.liveSamples());
        Invariants.check(budget.granted() <= budget.totalBytes(), "cache budget overdrawn: %d > %d",
                budget.granted(), budget.totalBytes());
    }
}
