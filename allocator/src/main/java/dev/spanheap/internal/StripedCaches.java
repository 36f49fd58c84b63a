package dev.spanheap.internal;

import java.util.function.Consumer;

/**
 * The virtual threads' shared caches: for a virtual thread without a cache of its own (see
 * {@link ThreadCaches}), a small set of {@link ThreadCache}s, one per stripe of carrier threads
 * ({@link CarrierStripes}), each behind a {@link StripeLock}. A virtual thread may be unmounted
 * and mounted on another carrier between two operations, so it uses whichever stripe its carrier
 * has now, under the lock. Nothing here calls the OS with a stripe's lock held, and a refill
 * fetches its batch from the central list with the lock dropped, so that the stripe's other
 * virtual threads do not wait behind either.
 *
 * <p>Virtual threads count towards the heap profile's samples in their stripe's countdown, under
 * the lock of the pop; the stripes' countdowns, each drawn from an exponential distribution over
 * the bytes of its own virtual threads, add up to a Poisson process over all their bytes, as one
 * countdown would.
 *
 * <p>Lock order: the registry's lock ({@link ThreadCaches}, which visits the stripes), then a
 * stripe's, then a central list's, then the page heap's.
 */
final class StripedCaches {

    private final CentralList[] centrals;
    private final PageHeap pageHeap;
    private final HeapProfiler profiler;
    private final StripeLock[] stripeLocks;
    private final ThreadCache[] stripes;
    /** The stripes' {@link ThreadCache#fastSlots()}, for the virtual threads' fast paths. */
    private final long[][] stripeSlots;
    /** Which stripe each carrier thread's virtual threads use. */
    private final CarrierStripes carrierStripes;
    /** The rate each stripe's countdown to a sample was drawn at; under the stripe's lock. */
    private final long[] countdownRates;

    StripedCaches(CentralList[] centrals, CacheBudget budget, int stripeCount, PageHeap pageHeap,
                  HeapProfiler profiler) {
        this.centrals = centrals;
        this.pageHeap = pageHeap;
        this.profiler = profiler;
        this.stripeLocks = new StripeLock[stripeCount];
        this.stripes = new ThreadCache[stripeCount];
        this.stripeSlots = new long[stripeCount][];
        this.countdownRates = new long[stripeCount];
        this.carrierStripes = new CarrierStripes(stripeCount);
        for (int i = 0; i < stripeCount; i++) {
            stripeLocks[i] = new StripeLock();
            // Virtual threads count towards samples in their stripe's countdown (see allocateShared).
            stripes[i] = new ThreadCache(centrals, budget, 0, pageHeap, null, profiler.nextSampleDistance());
            stripeSlots[i] = stripes[i].fastSlots();
            countdownRates[i] = profiler.rate();
        }
    }

    /** The stripe the calling virtual thread uses now: its carrier's ({@link CarrierStripes}). */
    int currentStripe() {
        return carrierStripes.current();
    }

    /**
     * The common case of {@link #allocateShared} alone, for a virtual thread's small request that
     * passed the fast path's checks: an object of class {@code c} popped from the calling virtual
     * thread's stripe, with {@code countedBytes} (0 when profiling is off) counted towards the
     * profile's next sample. Returns 0, having changed nothing, when the class is empty or this
     * request would be the next sample; {@link #allocateShared} then serves it. The lock's release
     * survives an overflow (see StripeLock#unlock), and the pop is the last step that changes the
     * stripe, so an overflow leaves no object out of it unless it was handed out.
     */
    long allocateFromStripe(int c, long countedBytes) {
        int stripe = currentStripe();
        long[] slots = stripeSlots[stripe];
        StripeLock lock = stripeLocks[stripe];
        long address = 0;
        lock.lock();
        try {
            // Counted before the pop and taken back if it finds nothing: in code not yet compiled
            // each is a call, and an overflow between a pop and a count after it would lose the
            // object, where one between the count and the pop only shifts the next sample a little.
            if (ThreadCache.countDownToSample(slots, countedBytes) >= 0) {
                address = ThreadCache.allocate(slots, c);
            }
            if (address == 0) {
                ThreadCache.countDownToSample(slots, -countedBytes);
            }
        } finally {
            // A release store, with the field write as its fallback (see StripeLock#unlock).
            try {
                lock.unlock();
            } catch (Throwable overflow) {
                lock.held = 0;
                throw overflow;
            }
        }
        return address;
    }

    /**
     * The common case of {@link #freeShared} alone: marks the calling virtual thread's object of
     * class {@code c} free and pushes it on its stripe (see {@link ThreadCache#free(long[], int, long,
     * long, long)} for {@code cookie} and {@code flag}); false, having changed nothing, when the class
     * is full, for {@link #freeShared} to drain it.
     */
    boolean freeToStripe(int c, long address, long cookie, long flag) {
        int stripe = currentStripe();
        StripeLock lock = stripeLocks[stripe];
        boolean pushed;
        lock.lock();
        try {
            pushed = ThreadCache.free(stripeSlots[stripe], c, address, cookie, flag);
        } finally {
            try {
                lock.unlock();
            } catch (Throwable overflow) {
                lock.held = 0;
                throw overflow;
            }
        }
        return pushed;
    }

    /**
     * An object of class {@code c} for the calling virtual thread, from its stripe; 0 when out of
     * memory. When the stripe is empty, the batch comes from the central list with the stripe's lock
     * dropped: the central list may call the OS for a new span, and the stripe's other virtual
     * threads must not wait behind that.
     *
     * <p>With {@code countedBytes} above 0, the request first counts that many bytes towards the
     * profile's next sample in the stripe's countdown; if this request is the sample, the countdown
     * restarts and what comes back instead of an object is minus the rate the ended countdown was
     * drawn at (addresses are positive). The stripes' countdowns, each drawn from an exponential
     * distribution over the bytes of its own virtual threads, add up to a Poisson process over all
     * their bytes, as one countdown would; a sample is weighed with its own countdown's rate.
     */
    long allocateShared(int c, long countedBytes) {
        int stripe = currentStripe();
        ThreadCache cache = stripes[stripe];
        StripeLock lock = stripeLocks[stripe];
        int wanted;
        boolean scavengeOwed;
        lock.lock();
        try {
            if (countedBytes != 0 && cache.countDownToSample(countedBytes) < 0) {
                return -restartCountdown(stripe);
            }
            long address = cache.allocate(c);
            if (address != 0) {
                return address;
            }
            wanted = cache.refillCount(c);
            scavengeOwed = cache.takeScavengeOwed();
        } finally {
            // A release store, with the field write as its fallback (see StripeLock#unlock).
            try {
                lock.unlock();
            } catch (Throwable overflow) {
                lock.held = 0;
                throw overflow;
            }
        }
        scavengeIfOwed(scavengeOwed);
        StackHeadroom.ensure();
        long[] batch = new long[wanted];
        int got = centrals[c].take(batch, 0, wanted);
        if (got == 0) {
            return 0;
        }
        int left;
        stripeLocks[stripe].lock();
        try {
            left = cache.stash(c, batch, got);
        } finally {
            stripeLocks[stripe].held = 0;
        }
        if (left > 0) {
            centrals[c].giveFromFree(batch, got - left, left);
        }
        return batch[0];
    }

    /**
     * Counts the calling virtual thread's request of {@code size} bytes that no stripe serves (a
     * large block) towards the profile's next sample, in its stripe's countdown: 0 when it is not the
     * sample, else the rate the ended countdown was drawn at.
     */
    long countTowardsSample(long size) {
        if (profiler.rate() == 0) {
            return 0;
        }
        int stripe = currentStripe();
        stripeLocks[stripe].lock();
        try {
            return stripes[stripe].countDownToSample(size) < 0 ? restartCountdown(stripe) : 0;
        } finally {
            stripeLocks[stripe].held = 0;
        }
    }

    /**
     * Restarts stripe {@code stripe}'s countdown, which a sample just ended, at the shared rate now;
     * returns the rate the ended one was drawn at. Under the stripe's lock.
     */
    private long restartCountdown(int stripe) {
        long drawnAt = countdownRates[stripe];
        long rate = profiler.sharedRateNow();
        countdownRates[stripe] = rate;
        stripes[stripe].setBytesUntilSample(profiler.nextSampleDistance(rate));
        return drawnAt;
    }

    /**
     * Frees an object of class {@code c} for the calling virtual thread, into its stripe.
     * {@code stackChecked}: the caller checked the stack ({@link StackHeadroom}) before it marked
     * the block in a way a lost block would keep (checked mode's allocation bit), so an overflow
     * must not strike here: the stack is not checked again, deeper.
     */
    void freeShared(int c, long address, FreeMarks marks, boolean stackChecked) {
        int stripe = currentStripe();
        StripeLock lock = stripeLocks[stripe];
        boolean scavengeOwed;
        lock.lock();
        try {
            ThreadCache cache = stripes[stripe];
            if (!cache.free(c, address, marks)) {
                // The mark only now, with the stack checked: a StackOverflowError at a call before
                // it leaves the block allocated, to be freed again, not marked free in no cache.
                if (!stackChecked) {
                    StackHeadroom.ensure();
                }
                marks.markFree(address, c);
                cache.overflow(c, address);
            }
            scavengeOwed = cache.takeScavengeOwed();
        } finally {
            try {
                lock.unlock();
            } catch (Throwable overflow) {
                lock.held = 0;
                throw overflow;
            }
        }
        scavengeIfOwed(scavengeOwed);
    }

    /**
     * The page heap's inline scavenging check that a stripe's drain owes, run once the stripe's lock
     * is dropped: it may call {@code madvise}, and the other virtual threads on the stripe must not
     * wait behind it.
     */
    private void scavengeIfOwed(boolean owed) {
        if (owed) {
            StackHeadroom.ensure();
            pageHeap.scavengeAfterLargeFree();
        }
    }

    /** Flushes every stripe to the central lists, each under its lock. */
    void flush() {
        for (int i = 0; i < stripes.length; i++) {
            boolean scavengeOwed;
            stripeLocks[i].lock();
            try {
                stripes[i].flush();
                scavengeOwed = stripes[i].takeScavengeOwed();
            } finally {
                stripeLocks[i].held = 0;
            }
            scavengeIfOwed(scavengeOwed);
        }
    }

    /** Visits each stripe under its lock. */
    void forEach(Consumer<ThreadCache> visitor) {
        for (int i = 0; i < stripes.length; i++) {
            stripeLocks[i].lock();
            try {
                visitor.accept(stripes[i]);
            } finally {
                stripeLocks[i].held = 0;
            }
        }
    }

    /** How many stripes there are. */
    int count() {
        return stripes.length;
    }
}
