package dev.spanheap.internal;

import java.util.function.LongSupplier;

/**
 * The heap's side of profiling: counting each slow-path request towards its thread's next sample,
 * and making a sampled allocation (a span of its own in state SAMPLED, the calling stack, the JFR
 * event, the thread's next distance at a rate adapted to what the sample cost). The fast path's
 * countdown is {@link Heap}'s; the samples and their sites are the {@link HeapProfiler}'s.
 */
final class SampledAllocations {

    private final HeapProfiler profiler;
    private final LargeBlocks large;
    /** The heap's clock (the scavenger's; a test's fake), read only when a sample is taken. */
    private final LongSupplier clock;
    private final String heapName;

    SampledAllocations(HeapProfiler profiler, LargeBlocks large, LongSupplier clock, String heapName) {
        this.profiler = profiler;
        this.large = large;
        this.clock = clock;
        this.heapName = heapName;
    }

    /**
     * Counts {@code size} bytes towards the next sample of the owner of {@code own} in its cache's
     * countdown; true when this allocation is the sample. (Virtual threads count in their stripe's:
     * {@link StripedCaches#allocateShared}.)
     */
    boolean countTowardsSample(ThreadCache own, long size) {
        return profiler.rate() != 0 && own.countDownToSample(size) < 0;
    }

    /**
     * A sampled allocation of {@code size} bytes (class {@code c}, or 0 for a large block) for the
     * owner of {@code own} (null on a virtual thread without a cache): its address, or 0 when the heap cannot hold
     * it. {@code keptSpans}: whether {@code own}'s kept large spans may serve it (the fast paths run).
     * {@code sharedRate}: on a virtual thread, the rate its stripe's countdown was drawn at, which the
     * sample's weight must use: the shared rate may have moved since, with other stripes' samples.
     */
    long allocate(long size, long alignment, int c, ThreadCache own, boolean keptSpans, long sharedRate) {
        long start = clock.getAsLong();
        long rate = own != null ? own.sampleRate.current() : sharedRate;
        // A small block's span holds its whole class size, which past 128 KiB is more pages than
        // the request needs (classes step by 16 KiB there).
        long spanned = c != 0 ? SizeClasses.SIZE[c] : size;
        int pages = Math.toIntExact((spanned + Pages.SIZE - 1) >>> Pages.SHIFT);
        long blockSize = c != 0 ? SizeClasses.SIZE[c] : (long) pages << Pages.SHIFT;
        double weight = HeapProfiler.weight(size, rate);
        HeapProfiler.Sample sample = new HeapProfiler.Sample(size, blockSize, c, new HeapProfiler.Stack(), weight);
        ThreadCache cache = own != null && keptSpans && alignment <= Pages.SIZE
                && pages <= ThreadCache.LARGE_CACHED_PAGES ? own : null;
        long address = large.allocateSampled(cache, pages, alignment, sample);
        if (address == 0) {
            return 0;
        }
        SpanheapEvents.allocationSampled(heapName, size, blockSize, c, weight);
        long end = clock.getAsLong();
        if (own != null) {
            own.setBytesUntilSample(profiler.nextSampleDistance(own.sampleRate.afterSample(start, end)));
        } else {
            profiler.afterSharedSample(start, end);
        }
        return address;
    }
}
