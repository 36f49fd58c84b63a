package dev.spanheap.internal;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Sampled heap profiling, Go's way ({@code runtime.MemProfileRate}): on average one allocation per
 * {@link #rate()} bytes allocated is sampled, and a sampled block remembers the stack that
 * allocated it until it is freed.
 *
 * <p>Which allocations: each thread counts down the bytes it allocates
 * ({@link ThreadCache#countDownToSample}; virtual threads count in their stripe's cache, see
 * {@link StripedCaches#allocateShared}) and
 * samples the allocation that takes the count below zero, then draws the next distance from an
 * exponential distribution with mean {@code rate}: the heap's, or longer while the thread
 * allocates so fast that sampling would cost it over 1% of its time ({@link SampleRate}). The
 * samples are then a Poisson process over the bytes allocated: an allocation of {@code s} bytes is
 * sampled with probability {@code 1 - exp(-s / rate)} for the rate it met, whatever came before it,
 * and {@link #weight} undoes that bias.
 *
 * <p>How a sampled block is kept apart (TCMalloc's way): it gets a span of whole pages of its own in
 * state {@link SpanTable#SAMPLED}, while counting in the statistics, and reporting as its usable
 * size, what an unsampled block of its size would. Unsampled frees never look for a sample: a
 * small block's free never reaches the page heap, and a large block's span state already says
 * whether it was sampled.
 *
 * <p>Stacks are captured as a {@link Throwable}'s backtrace, which the JVM fills in about 1 µs for
 * a 20-frame stack, and turned into {@link StackTraceElement}s only when a profile or report needs
 * them: freed samples are folded into their sites ({@link #resolvePending}, about 4 µs each) by
 * the scavenger's background thread (a freeing thread helps, a few at a time, when they pile up),
 * or when a profile is written. A {@link StackWalker} that keeps its frames costs about 3 µs on
 * the allocating thread.
 *
 * <p>Ordering: a sample is {@linkplain #record recorded} before its span is published as SAMPLED
 * (under the page heap's lock, or while the span is still in the allocating thread's cache) and
 * {@linkplain #freed dropped} after the one free that moves it out of SAMPLED and before its pages
 * can be handed out again (under the page heap's lock, or before the span enters the freeing
 * thread's cache). This object's monitor guards its own tables.
 */
public final class HeapProfiler {

    /** Go's default {@code MemProfileRate}: one sample per 512 KiB allocated. */
    public static final long DEFAULT_RATE = 512 * 1024;
    /**
     * Freed samples waiting for their stacks to be resolved and folded into sites, by the
     * scavenger's thread between cycles; a freeing thread helps only past this many (a background
     * thread that is off, or behind), so that their memory stays bounded.
     */
    private static final int PENDING_LIMIT = 16384;
    /**
     * How many pending samples a freeing thread folds when it helps: enough to keep the backlog from
     * growing (it added one), few enough (tens of microseconds) not to stall it.
     */
    static final int HELPING_BATCH = 8;

    private final long rate;
    /** The rate in effect for the virtual threads' stripes' countdowns; under this object's monitor. */
    private final SampleRate sharedRate;
    private final Map<Long, Sample> live = new HashMap<>();
    private final ArrayDeque<Sample> pendingFreed = new ArrayDeque<>();
    /** Freed samples, folded by allocation site: only their allocation totals still count. */
    private final Map<Site, SiteTotals> freedSites = new HashMap<>();
    private final long[] classMallocs = new long[SizeClasses.COUNT];
    private final long[] classFrees = new long[SizeClasses.COUNT];
    /** {large mallocs, their bytes, large frees, their bytes}, in {@link HeapStatistics}' order. */
    private final long[] largeCounts = new long[4];

    /** @param rate bytes per sample on average: 0 samples nothing, 1 every allocation */
    public HeapProfiler(long rate) {
        if (rate < 0) {
            throw new IllegalArgumentException("profileRate must not be negative: " + rate);
        }
        this.rate = rate;
        this.sharedRate = new SampleRate(rate);
    }

    public long rate() {
        return rate;
    }

    /** A new thread's first distance to a sample, at the heap's rate. */
    long nextSampleDistance() {
        return nextSampleDistance(rate);
    }

    /** The bytes to allocate before the next sample: exponential with mean {@code mean} (0: never). */
    long nextSampleDistance(long mean) {
        if (mean == 0) {
            return Long.MAX_VALUE;
        }
        if (mean == 1) {
            return 0;
        }
        double uniform = ThreadLocalRandom.current().nextDouble();
        double distance = -Math.log1p(-uniform) * mean;
        return distance >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) distance;
    }

    /** A thread's own {@link SampleRate}, starting at the heap's rate. */
    SampleRate newSampleRate() {
        return new SampleRate(rate);
    }

    synchronized long sharedRateNow() {
        return sharedRate.current();
    }

    /** Adapts the shared rate after a sample taken on it; see {@link SampleRate#afterSample}. */
    synchronized void afterSharedSample(long start, long end) {
        sharedRate.afterSample(start, end);
    }

    /**
     * How many allocations like this one each sample stands for: an allocation of {@code size}
     * bytes met by a sampling rate of {@code mean} is sampled with probability
     * {@code 1 - exp(-size / mean)}, so it counts as the inverse (Go's {@code scaleHeapSample},
     * applied per sample).
     */
    static double weight(long size, long mean) {
        if (mean <= 1) {
            return 1;
        }
        return 1 / -Math.expm1(-(double) size / mean);
    }

    /**
     * The stack of a sampled allocation, captured when it is made: a throwable's backtrace, turned
     * into frames only when asked (see the class comment for why not a {@link StackWalker}).
     */
    static final class Stack extends Throwable {
        Stack() {
            super("sampled allocation", null, false, true);
        }
    }

    /** A sampled block: what was asked for, what it counts as, and where it came from. */
    record Sample(long requested, long blockSize, int sizeClass, Throwable stack, double weight) {
    }

    /** Adds the sampled block at {@code address}, before its span is published as SAMPLED (see the class comment). */
    synchronized void record(Long address, Sample sample) {
        live.put(address, sample);
        if (sample.sizeClass != 0) {
            classMallocs[sample.sizeClass]++;
        } else {
            largeCounts[0]++;
            largeCounts[1] += sample.blockSize;
        }
    }

    /**
     * Removes the sample of the block at {@code address}, whose span left SAMPLED (by the compare-and-set
     * or under the page heap's lock that frees it) and is not yet anyone else's.
     */
    synchronized void freed(long address) {
        // Whatever allocates first (the boxed key, the list's growth), so that a full Java heap
        // finds the sample still live.
        Long key = address;
        Sample sample = live.get(key);
        if (sample == null) {
            return;
        }
        pendingFreed.add(sample);
        live.remove(key);
        if (sample.sizeClass != 0) {
            classFrees[sample.sizeClass]++;
        } else {
            largeCounts[2]++;
            largeCounts[3] += sample.blockSize;
        }
    }

    /**
     * Drops the sample that a failed {@link #record} may have left (its map grows after it inserts);
     * counts nothing. It allocates nothing: {@code key} is the one the record was given.
     */
    synchronized void forget(Long key) {
        live.remove(key);
    }

    /** Whether freed samples are waiting for {@link #resolvePending}. */
    synchronized boolean hasManyPending() {
        return pendingFreed.size() >= PENDING_LIMIT;
    }

    /** Folds every pending freed sample into its site; see {@link #resolvePending(int)}. */
    void resolvePending() {
        resolvePending(Integer.MAX_VALUE);
    }

    /**
     * Folds up to {@code max} freed samples, oldest first, into their sites, resolving their stacks
     * outside the monitor (a few microseconds each) so that threads recording samples meanwhile do
     * not wait.
     */
    void resolvePending(int max) {
        List<Sample> batch;
        synchronized (this) {
            if (pendingFreed.isEmpty()) {
                return;
            }
            batch = new ArrayList<>(Math.min(max, pendingFreed.size()));
            while (batch.size() < max && !pendingFreed.isEmpty()) {
                batch.add(pendingFreed.pollFirst());
            }
        }
        List<Site> sites = new ArrayList<>(batch.size());
        for (Sample sample : batch) {
            sites.add(siteOf(sample));
        }
        synchronized (this) {
            for (int i = 0; i < batch.size(); i++) {
                Sample sample = batch.get(i);
                freedSites.computeIfAbsent(sites.get(i), site -> new SiteTotals()).addAllocated(sample);
            }
        }
    }

    /** The usable size of the live sampled block at {@code address}, or -1 if there is none. */
    synchronized long blockSize(long address) {
        Sample sample = live.get(address);
        return sample == null ? -1 : sample.blockSize;
    }

    synchronized int liveSamples() {
        return live.size();
    }

    /** Adds the sampled blocks' counts to {@link HeapStatistics}' per-class and large arrays. */
    synchronized void addCounts(long[] mallocs, long[] frees, long[] large) {
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            mallocs[c] += classMallocs[c];
            frees[c] += classFrees[c];
        }
        for (int i = 0; i < large.length; i++) {
            large[i] += largeCounts[i];
        }
    }

    /** The call stack of a sample, innermost first, without the allocator's own frames. */
    record Site(List<StackTraceElement> frames, long blockSize) {
    }

    /** Estimated allocations at one site: counts and bytes, allocated in total and still in use. */
    static final class SiteTotals {
        double allocObjects;
        double allocBytes;
        double inuseObjects;
        double inuseBytes;
        int samples;
        int liveSamples;

        void addAllocated(Sample sample) {
            allocObjects += sample.weight;
            allocBytes += sample.weight * sample.blockSize;
            samples++;
        }

        void addInUse(Sample sample) {
            addAllocated(sample);
            inuseObjects += sample.weight;
            inuseBytes += sample.weight * sample.blockSize;
            liveSamples++;
        }
    }

    /** Every site with its totals: freed samples folded in, live ones counted as in use. */
    Map<Site, SiteTotals> sites() {
        resolvePending();
        List<Sample> liveNow;
        Map<Site, SiteTotals> result = new HashMap<>();
        synchronized (this) {
            liveNow = new ArrayList<>(live.values());
            freedSites.forEach((site, totals) -> {
                SiteTotals copy = new SiteTotals();
                copy.allocObjects = totals.allocObjects;
                copy.allocBytes = totals.allocBytes;
                copy.samples = totals.samples;
                result.put(site, copy);
            });
        }
        for (Sample sample : liveNow) {
            result.computeIfAbsent(siteOf(sample), site -> new SiteTotals()).addInUse(sample);
        }
        return result;
    }

    private static Site siteOf(Sample sample) {
        return new Site(userFrames(sample.stack.getStackTrace()), sample.blockSize);
    }

    /**
     * {@code trace} without its innermost frames in the allocator (the calls into Spanheap and below)
     * and in the FFM API's default methods that called it ({@code SegmentAllocator.allocate(long)},
     * {@code allocateFrom}): as Go's profiles start at the code that called {@code new}, not in
     * {@code mallocgc}.
     */
    static List<StackTraceElement> userFrames(StackTraceElement[] trace) {
        int first = 0;
        while (first < trace.length && (isAllocatorFrame(trace[first].getClassName())
                || trace[first].getClassName().startsWith("java.lang.foreign."))) {
            first++;
        }
        return Arrays.asList(Arrays.copyOfRange(trace, first, trace.length));
    }

    /** Classes of this module: {@code dev.spanheap.internal.*} and the public classes of {@code dev.spanheap}. */
    private static boolean isAllocatorFrame(String className) {
        return className.startsWith("dev.spanheap.internal.")
                || className.startsWith("dev.spanheap.") && className.lastIndexOf('.') == "dev.spanheap".length();
    }
}
