package dev.spanheap.internal;

/**
 * The sampling rate in effect for one thread (or for the threads that share a countdown): the
 * heap's profile rate, lengthened while samples come so fast that taking them would cost more than
 * {@link #OVERHEAD_PERCENT}% of the thread's time.
 *
 * <p>Why: a sample costs its stack capture, 1 to 2 µs on the JVM (a throwable's backtrace; a
 * {@link StackWalker} costs more), against Go's unwinding of a fraction of that. At Go's 512 KiB a
 * thread allocating 4 KiB blocks in a tight loop would sample every 128 allocations and spend most of
 * its time capturing stacks. So after each sample, with {@code target} = {@code 100 / OVERHEAD_PERCENT}
 * times what samples cost (smoothed, and capped so that one sample slowed by a GC pause or cold code
 * does not count as typical): if the time since the previous sample was less than {@code target}, the
 * rate doubles; if it was more than twice {@code target}, the rate comes down at once to what would
 * have met it ({@code rate * target / elapsed}), but not below the heap's. A service allocating at
 * ordinary speeds never leaves the heap's rate, and one that slows down after a burst is back to it
 * at its next sample.
 *
 * <p>The profile stays unbiased: the distance to the next sample is drawn with the rate in effect,
 * and the process is memoryless, so an allocation of {@code s} bytes is sampled with probability
 * {@code 1 - exp(-s / rate)} for the rate it met, and its sample is weighted by the inverse of that.
 */
final class SampleRate {

    /** The share of a thread's time that sampling may take before the rate lengthens. */
    static final int OVERHEAD_PERCENT = 1;
    /** The longest rate: about one sample per TiB, for a thread that does nothing but allocate. */
    static final long MAX_RATE = 1L << 40;
    /** The most one sample's cost counts for: more is a pause that happened to hit it, not its cost. */
    static final long MAX_COST_NANOS = 20_000;

    private final long nominal;
    private long current;
    private long lastSampleEnd;
    private long smoothedCost;
    private boolean sampledBefore;

    SampleRate(long nominal) {
        this.nominal = nominal;
        this.current = nominal;
    }

    /** The mean bytes between samples now. */
    long current() {
        return current;
    }

    /**
     * Adapts the rate after a sample that ran from {@code start} to {@code end} (nanoseconds of the
     * heap's clock), and returns the rate for drawing the next distance.
     */
    long afterSample(long start, long end) {
        long cost = Math.clamp(end - start, 0, MAX_COST_NANOS);
        // An average over the last eight samples or so: stack depths and caches vary.
        smoothedCost = sampledBefore ? smoothedCost + (cost - smoothedCost) / 8 : cost;
        if (sampledBefore && nominal > 1) {
            long sinceLast = Math.max(start - lastSampleEnd, 0);
            long target = smoothedCost * (100 / OVERHEAD_PERCENT);
            if (sinceLast < target) {
                current = Math.min(MAX_RATE, current * 2);
            } else if (sinceLast > 2 * target && current > nominal) {
                double scaled = (double) current * target / sinceLast;
                current = Math.max(nominal, (long) scaled);
            }
        }
        sampledBefore = true;
        lastSampleEnd = end;
        return current;
    }
}
