package dev.spanheap.internal;

import dev.spanheap.OsMemoryException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * Gives the physical memory of free pages back to the OS with {@code madvise(MADV_DONTNEED)},
 * keeping the address space (the bottom of the free ladder in package-info; Go's background
 * scavenger).
 *
 * <p>Policy, per cycle:
 * <ol>
 *   <li>goal = {@code retainPercent}% (default 103) of the peak in-use memory over the last
 *       {@code window} (a max over four buckets, so a burst stops counting one window after it ends),
 *       but at most the ceiling: {@code maxRetainPercent}% (default 110) of what is in use now, or
 *       {@link #MIN_HEADROOM_BYTES} over it if that is more; with a soft limit, at most 95% of it
 *       (Go's GOMEMLIMIT rule);</li>
 *   <li>retained = committed pages not released: in use plus free-but-resident;</li>
 *   <li>if retained exceeds the goal: first take back idle memory above the page heap (caches of
 *       ended threads, central transfer stacks and kept empty spans), then note the in-use peak,
 *       then release free pages (in-use never counts the memory idle in central lists, which the
 *       page heap sees as in use: it would raise the goal that should make it go),
 *       largest runs first, at most {@link #MAX_RELEASE_PER_CYCLE} per cycle.</li>
 * </ol>
 * The background thread paces itself to about 1% of one CPU: after a cycle that took {@code t} it
 * sleeps {@code 99 t} (at least {@link #MIN_SLEEP_NANOS}, at most {@link #MAX_SLEEP_NANOS}); with
 * nothing to do it sleeps {@link #IDLE_SLEEP_NANOS}, twice as long after each further idle cycle, up
 * to a quarter of the window (one of its buckets), and again from the start after a cycle that
 * released. Clock and sleep are injected, so tests run cycles deterministically.
 *
 * <p>Between cycles, users' threads release too ({@link InlineScavenging}): before the heap grows
 * for a large block, and after a free that sends a large span to the page heap, whatever takes retained memory past
 * the last cycle's goal (or past {@code retainPercent}% of what is in use now, if more), and in any
 * case past the ceiling. Growths note what is in use as a peak, which the next cycle folds into the
 * window.
 *
 * <p>Why a ceiling besides the window: the window keeps a shrinking heap's old peak for a second, so
 * a pool of large buffers that shrinks by a tenth in a fifth of a second held 1.19-1.27 times its
 * live bytes at peak (the garbage workload of {@code ./compare memory}). The ceiling releases what is
 * past it on the free that crosses it, and its headroom still holds the next buffers. What the
 * ceiling releases (beyond the window's goal) is limited to {@link #CAP_RELEASE_BURST_BYTES} at once
 * and {@link #CAP_RELEASE_BYTES_PER_SECOND} after that, so that a heap whose use swings back and
 * forth many times a second does not fault the same pages in again at each swing.
 *
 * <p>With {@code -Dspanheap.scavtrace=1} every cycle that releases memory prints one line to
 * stderr, in the spirit of Go's {@code GODEBUG=scavtrace=1}.
 */
public final class Scavenger implements InlineScavenging {

    private static final System.Logger LOG = System.getLogger("dev.spanheap");
    /** The share of a soft limit that retained memory is brought down to, in percent; see {@link #softLimitTarget}. */
    static final int SOFT_LIMIT_TARGET_PERCENT = 95;

    static final long MAX_RELEASE_PER_CYCLE = 16L << 20;
    /**
     * The least the ceiling leaves free over what is in use: a small heap keeps room for its next
     * large blocks (10% of 20 MiB would make a 4 MiB buffer that comes and goes fault its pages in
     * each time).
     */
    static final long MIN_HEADROOM_BYTES = 8L << 20;
    /**
     * How much the cap may release at once, and per second after that (the window's goal is not
     * limited). Without a limit, a soak of 4096 live blocks of 8 B-1 MiB replaced 250 000 times a
     * second, whose use swings a few percent either way many times a second, ran 20-25% slower:
     * each swing past the cap released pages the next allocations faulted in again. A drop like
     * the garbage workload's (8-12% of 133 MiB within a fifth of a second) fits in the burst.
     */
    static final long CAP_RELEASE_BURST_BYTES = 64L << 20;
    static final long CAP_RELEASE_BYTES_PER_SECOND = 64L << 20;
    private static final long SECOND_NANOS = 1_000_000_000L;
    static final long MIN_SLEEP_NANOS = 1_000_000L;
    /**
     * The first sleep after a cycle with nothing to release; it doubles with each further idle
     * cycle, up to a quarter of the window (250 ms by default): a longer sleep would leave a drop
     * in use unreleased for longer than the window promises. At a fixed 50 ms, idle heaps woke 20
     * times a second for cycles that found nothing to do. Over an empty JVM's own use, measured
     * side by side: one idle heap 0.7% of a core before, 0.3% now; 100 idle heaps 5.6% before,
     * 2.1% now, of which 1.5% is the JVM's cost of 100 threads that sleep 250 ms at a time. Large
     * frees and growths release on users' threads meanwhile ({@link InlineScavenging}), so a heap
     * busy again does not wait for the background thread to wake.
     */
    static final long IDLE_SLEEP_NANOS = 50_000_000L;
    /**
     * The longest sleep after a cycle that released memory. {@code t} is wall-clock time, and a
     * cycle that madvises thousands of small runs on a machine busy with the allocating threads
     * "took" 50 ms or more: 99 times that left a heap whose use had just dropped by 250 MiB at its
     * peak RSS for five seconds (the fragmentation workload of {@code ./compare memory}). A cycle a
     * second keeps to the window's promise that RSS follows a drop within about a second, at the
     * price of more than 1% of a CPU while such slow cycles last.
     */
    static final long MAX_SLEEP_NANOS = 1_000_000_000L;
    private static final int BUCKETS = 4;

    /** Sleeps for the background thread; tests substitute one that returns at once or counts. */
    @FunctionalInterface
    public interface Sleeper {
        void sleep(long nanos) throws InterruptedException;
    }

    private final IdleCentralMemory idle;
    /** Work for the background thread besides releasing: folding freed profile samples (see {@link HeapProfiler}). */
    private final Runnable housekeeping;
    private final PageHeap pageHeap;
    private final LongSupplier clock;
    private final int retainPercent;
    /** The ceiling's share of what is in use now, in percent: at least {@link #retainPercent}. */
    private final int maxRetainPercent;
    private final long softLimitBytes;
    private final long bucketNanos;
    private final boolean trace;
    private final long[] bucketPeaks = new long[BUCKETS];
    private final long[] bucketStarts = new long[BUCKETS];
    private long totalReleased;
    /**
     * The goal the last cycle worked to, for the inline checks on users' threads
     * ({@link #beforeGrowth}, {@link #afterLargeFree}); 0 until a cycle has run: no goal is known.
     */
    private volatile long lastGoal;
    /**
     * The most in use seen by {@link #beforeGrowth} since the last cycle, which folds it into the
     * window: a burst that grows the heap between two cycles counts as a peak as much as one a cycle
     * saw, so its memory is not released on the next large free as if it had never been needed.
     */
    private final AtomicLong grownPeak = new AtomicLong();
    /** The cap's allowance left, and when it was last refilled (Long.MIN_VALUE: never, so full); see {@link #takeCapAllowance}. */
    private long capAllowance;
    private long capAllowanceRefilled = Long.MIN_VALUE;
    private volatile Thread thread;
    /** The heap's name, for the JFR events. */
    private final String heapName;

    Scavenger(IdleCentralMemory idle, PageHeap pageHeap, HeapConfig.Scavenging settings, String heapName,
              Runnable housekeeping) {
        this.idle = idle;
        this.housekeeping = housekeeping;
        this.heapName = heapName;
        this.pageHeap = pageHeap;
        this.clock = settings.clock();
        this.retainPercent = settings.retainPercent();
        this.maxRetainPercent = Math.max(settings.maxRetainPercent(), settings.retainPercent());
        this.softLimitBytes = settings.softLimitBytes();
        this.bucketNanos = Math.max(1, settings.windowNanos() / BUCKETS);
        this.trace = "1".equals(System.getProperty("spanheap.scavtrace"));
        java.util.Arrays.fill(bucketStarts, Long.MIN_VALUE);
    }

    /** Starts the background thread (a daemon). */
    void start(Sleeper sleeper) {
        Thread background = Thread.ofPlatform().daemon().name("spanheap-scavenger").unstarted(() -> loop(sleeper));
        thread = background;
        background.start();
    }

    private void loop(Sleeper sleeper) {
        boolean refusing = false;
        long maxIdleSleep = Math.clamp(bucketNanos, IDLE_SLEEP_NANOS, MAX_SLEEP_NANOS);
        long idleSleep = IDLE_SLEEP_NANOS;
        try {
            while (thread == Thread.currentThread()) {
                long started = clock.getAsLong();
                long released;
                try {
                    released = cycle();
                    housekeeping.run();
                    refusing = false;
                } catch (IllegalStateException closedUnderUs) {
                    return;
                } catch (OsMemoryException | OutOfMemoryError refused) {
                    // The memory stays resident; try again after an idle pause instead of dying (a
                    // full Java heap too: a scavenger that died of it would never release again),
                    // and say so once per streak of refusals.
                    if (!refusing) {
                        warnRefused(refused);
                    }
                    refusing = true;
                    released = 0;
                }
                long spent = clock.getAsLong() - started;
                long sleep;
                if (released > 0) {
                    sleep = Math.clamp(spent * 99, MIN_SLEEP_NANOS, MAX_SLEEP_NANOS);
                    idleSleep = IDLE_SLEEP_NANOS;
                } else if (refusing) {
                    // The retry pace the refusal's warning promises.
                    sleep = IDLE_SLEEP_NANOS;
                } else {
                    sleep = idleSleep;
                    idleSleep = Math.min(idleSleep * 2, maxIdleSleep);
                }
                sleeper.sleep(sleep);
            }
        } catch (InterruptedException stop) {
            Thread.currentThread().interrupt();
        }
    }

    private static void warnRefused(Throwable refused) {
        try {
            String why = refused instanceof OsMemoryException ? refused.getMessage() : refused.toString();
            LOG.log(System.Logger.Level.WARNING, "Spanheap scavenger cannot release memory: "
                    + why + "; retrying every " + IDLE_SLEEP_NANOS / 1_000_000 + " ms");
        } catch (OutOfMemoryError stillFull) {
            // Nothing to say it with; the next streak will.
        } catch (RuntimeException loggingFailed) {
            // A logging backend that throws must not end the background thread.
        }
    }

    /** Stops the background thread and waits for it. */
    void stop() {
        Thread background = thread;
        thread = null;
        if (background != null && background != Thread.currentThread()) {
            background.interrupt();
            try {
                background.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** One cycle of the policy above; returns the bytes released. Each cycle is a JFR event (SpanheapEvents). */
    public long cycle() {
        ScavengerCycleEvent event = SpanheapEvents.beginScavengerCycle();
        long[] goalAndRetained = new long[2];
        long released = cycle(goalAndRetained);
        if (event != null && event.isEnabled()) {
            PageHeap.PageCounts after = pageHeap.counts();
            SpanheapEvents.endScavengerCycle(event, heapName, released, bytes(after.committed() - after.releasedFree()),
                    goalAndRetained[0], bytes(after.inUse()));
        }
        return released;
    }

    private long cycle(long[] goalOut) {
        long now = clock.getAsLong();
        long grown = grownPeak.getAndSet(0);
        if (grown > 0) {
            notePeak(now, grown);
        }
        PageHeap.PageCounts counts = pageHeap.counts();
        long inUse = inUseBytes(counts);
        long retained = bytes(counts.committed() - counts.releasedFree());
        long threshold = capped(Math.max(goal(now), percentOf(inUse, retainPercent)));
        long cap = ceiling(inUse);
        if (retained <= Math.min(threshold, cap)) {
            notePeak(now, inUse);
            long goal = goal(now);
            goalOut[0] = Math.min(goal, cap);
            lastGoal = Math.max(threshold, goal);
            return 0;
        }
        idle.releaseIdleCentralMemory();
        counts = pageHeap.counts();
        inUse = inUseBytes(counts);
        notePeak(now, inUse);
        long goal = goal(now);
        cap = ceiling(inUse);
        goalOut[0] = Math.min(goal, cap);
        lastGoal = goal;
        retained = bytes(counts.committed() - counts.releasedFree());
        long toRelease = Math.min(Math.max(0, retained - goal), MAX_RELEASE_PER_CYCLE);
        long overCap = Math.min(retained - cap, MAX_RELEASE_PER_CYCLE);
        if (overCap > toRelease) {
            toRelease += takeCapAllowance(overCap - toRelease);
        }
        long released = toRelease > 0 ? pageHeap.release(toRelease, overSoftLimit(retained)) : 0;
        totalReleased += released;
        if (trace && released > 0) {
            PageHeap.PageCounts after = pageHeap.counts();
            long inUseAfter = bytes(after.inUse());
            long kept = bytes(after.committed() - after.releasedFree());
            System.err.printf("spanheap scav: %d KiB released, %d KiB retained, %d KiB in use, %d%% util, %d KiB total%n",
                    released >> 10, kept >> 10, inUseAfter >> 10, kept == 0 ? 100 : inUseAfter * 100 / kept,
                    totalReleased >> 10);
        }
        return released;
    }

    /**
     * Synchronous scavenging on an allocating thread, before the heap grows (called by the page
     * heap with its lock held; the release itself runs outside it):
     * <ul>
     *   <li>past the soft limit: free pages until retained memory plus {@code growthBytes} is at
     *       most 95% of the limit, or nothing is left (Go's GOMEMLIMIT);</li>
     *   <li>past the goal (the last cycle's, or {@code retainPercent}% of what is in use now if that
     *       is more; at most the ceiling over what is in use after the growth): as many free pages
     *       as the growth adds, or the overage if less (Go's
     *       heap-growth scavenging). Without it, a heap whose free runs are too fragmented for its
     *       requests grows while they stay resident, faster than the paced background thread
     *       releases them: RSS overshoots the goal until it catches up.</li>
     * </ul>
     */
    @Override
    public long beforeGrowth(long retainedBytes, long growthBytes, long inUseBytes) {
        long after = retainedBytes + growthBytes;
        long forLimit = softLimitBytes > 0 && after > softLimitBytes ? after - softLimitTarget() : 0;
        long goal = lastGoal;
        if (goal == 0) {
            return forLimit;
        }
        long inUse = inUseBytes(inUseBytes);
        grownPeak.accumulateAndGet(inUse, Math::max);
        goal = inlineGoal(goal, inUse);
        long overGoal = after > goal ? Math.min(growthBytes, after - goal) : 0;
        long overCap = Math.min(growthBytes, after - ceiling(inUse + growthBytes));
        if (overCap > overGoal) {
            overGoal += takeCapAllowance(overCap - overGoal);
        }
        return Math.max(forLimit, overGoal);
    }

    /**
     * After a free sent a large span to the page heap: the excess of retained memory over the
     * goal, or over the ceiling if that is more as far as the ceiling's allowance reaches, released
     * on the freeing thread (see {@link InlineScavenging}); nothing until a cycle has set a goal.
     */
    @Override
    public long afterLargeFree(long retainedBytes, long inUseBytes) {
        long goal = lastGoal;
        if (goal == 0) {
            return 0;
        }
        long inUse = inUseBytes(inUseBytes);
        long overGoal = Math.max(0, retainedBytes - inlineGoal(goal, inUse));
        long overCap = retainedBytes - ceiling(inUse);
        return overCap > overGoal ? overGoal + takeCapAllowance(overCap - overGoal) : overGoal;
    }

    /**
     * Up to {@code wanted} bytes of what the cap may still release: {@link #CAP_RELEASE_BURST_BYTES}
     * at once, coming back at {@link #CAP_RELEASE_BYTES_PER_SECOND} on the heap's clock. Reads the
     * clock only when called, that is when retained memory is past the cap.
     */
    private synchronized long takeCapAllowance(long wanted) {
        long now = clock.getAsLong();
        long elapsed = now - capAllowanceRefilled;
        if (capAllowanceRefilled == Long.MIN_VALUE || elapsed >= SECOND_NANOS) {
            capAllowance = CAP_RELEASE_BURST_BYTES;
        } else if (elapsed > 0) {
            capAllowance = Math.min(CAP_RELEASE_BURST_BYTES,
                    capAllowance + elapsed * CAP_RELEASE_BYTES_PER_SECOND / SECOND_NANOS);
        }
        capAllowanceRefilled = now;
        long taken = Math.min(wanted, capAllowance);
        capAllowance -= taken;
        return taken;
    }

    /**
     * The most retained with {@code inUse} bytes in use, whatever the recent peak:
     * {@link #maxRetainPercent}% of it, or {@link #MIN_HEADROOM_BYTES} over it if that is more;
     * none at {@link Integer#MAX_VALUE}, which leaves the window alone.
     */
    private long ceiling(long inUse) {
        if (maxRetainPercent == Integer.MAX_VALUE) {
            return Long.MAX_VALUE;
        }
        return Math.max(percentOf(inUse, maxRetainPercent), inUse + MIN_HEADROOM_BYTES);
    }

    /** {@code percent}% of {@code bytes}, divided first and saturating, so that no setting overflows. */
    private static long percentOf(long bytes, int percent) {
        long hundredths = bytes / 100;
        return hundredths > Long.MAX_VALUE / percent ? Long.MAX_VALUE : hundredths * percent;
    }

    /**
     * The last cycle's goal, or {@code retainPercent}% of the most in use since then (now, or at a
     * growth) if that is more.
     */
    private long inlineGoal(long lastGoal, long inUse) {
        return capped(Math.max(lastGoal, percentOf(Math.max(inUse, grownPeak.get()), retainPercent)));
    }

    /** The page heap's in-use bytes less the memory idle in central lists; see {@link #inUseBytes(PageHeap.PageCounts)}. */
    private long inUseBytes(long pageHeapInUseBytes) {
        return Math.max(0, pageHeapInUseBytes - idle.idleCentralBytes());
    }

    /** The retained-memory goal now: see the class comment. */
    long goal(long now) {
        long peak = 0;
        for (int i = 0; i < BUCKETS; i++) {
            if (now - bucketStarts[i] < bucketNanos * BUCKETS) {
                peak = Math.max(peak, bucketPeaks[i]);
            }
        }
        return capped(percentOf(peak, retainPercent));
    }

    /**
     * Bytes in use for the peak: the page heap's in-use pages less the memory idle in central lists,
     * which the page heap counts as in use and which would otherwise raise the goal that should
     * make it go.
     */
    private long inUseBytes(PageHeap.PageCounts counts) {
        return inUseBytes(bytes(counts.inUse()));
    }

    @Override
    public boolean overSoftLimit(long retainedBytes) {
        return softLimitBytes > 0 && retainedBytes > softLimitTarget();
    }

    /** {@code goal}, at most the soft limit's target when there is one. */
    private long capped(long goal) {
        return softLimitBytes > 0 ? Math.min(goal, softLimitTarget()) : goal;
    }

    /**
     * What retained memory is brought down to under a soft limit: {@link #SOFT_LIMIT_TARGET_PERCENT}
     * of it (Go scavenges to 95% of GOMEMLIMIT), leaving headroom so that the next growth does not
     * cross the limit at once. Divided first, so that no limit can overflow.
     */
    private long softLimitTarget() {
        return softLimitBytes / 100 * SOFT_LIMIT_TARGET_PERCENT;
    }

    private void notePeak(long now, long inUse) {
        long bucketStart = now - Math.floorMod(now, bucketNanos);
        int bucket = (int) Math.floorMod(bucketStart / bucketNanos, (long) BUCKETS);
        if (bucketStarts[bucket] != bucketStart) {
            bucketStarts[bucket] = bucketStart;
            bucketPeaks[bucket] = 0;
        }
        bucketPeaks[bucket] = Math.max(bucketPeaks[bucket], inUse);
    }

    private static long bytes(long pages) {
        return pages << Pages.SHIFT;
    }
}
