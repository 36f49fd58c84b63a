package dev.spanheap.internal;

import java.lang.ref.Cleaner;
import java.lang.ref.WeakReference;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Finds the cache for the calling thread and takes caches back when threads end.
 *
 * <ul>
 *   <li>A platform thread gets its own {@link ThreadCache}, found on the fast paths through
 *       {@link ThreadSlots} (a slot of its own per live thread, by thread id) and elsewhere through a
 *       {@link ThreadLocal}, which makes and registers caches.</li>
 *   <li>A virtual thread gets a cache of its own the same way while fewer than
 *       {@code virtualCacheLimit} live virtual threads hold one (the builder's
 *       {@code virtualThreadCaches}), and keeps it for its life. The others share a small set of
 *       striped caches, one per carrier, each behind a lock ({@link StripedCaches}, which this
 *       registry holds and visits): a cache per virtual thread would make
 *       cache memory grow with the number of virtual threads (Netty's pooled allocator's problem).
 *       A virtual thread per request ends soon, and the next one takes over its cache: 16 B pairs on
 *       a new virtual thread per 10 000 took 16-18 ns a pair with a cache each, against 38-46 on
 *       the stripes (a plain loop; about 4 ns of it starting and joining the thread).</li>
 *   <li>Every cache is registered here. When its thread ends it is flushed to the central lists
 *       and its budget returned: promptly through a {@link Cleaner} registered on the
 *       thread, and deterministically whenever statistics are read or the scavenger runs (the
 *       registry then reaps every cache whose thread is no longer alive). A thread's first
 *       allocation takes over such a cache of a thread of its kind (platform or virtual),
 *       unflushed, if one is waiting, and makes a cache only if none is.</li>
 * </ul>
 * Lock order: this registry's lock, then a stripe's ({@link StripedCaches}), then a central
 * list's, then the page heap's.
 */
final class ThreadCaches {

    private static final Cleaner CLEANER = Cleaner.create();

    private final CentralList[] centrals;
    private final CacheBudget budget;
    /** Every registered thread's cache by thread id, for the fast paths. */
    private final ThreadSlots slots;
    final ThreadLocal<ThreadCache> local = ThreadLocal.withInitial(this::register);
    /** The virtual threads' shared caches, for those without a cache of their own. */
    private final StripedCaches stripes;
    private final ReentrantLock registryLock = new ReentrantLock();
    /** Platform threads' registrations. */
    private final List<Owned> owned = new ArrayList<>();
    /**
     * Virtual threads' registrations, apart: a virtual thread's registration reaps and takes over
     * from these alone, at most the limit's number, not from every platform thread's. With 200 live
     * platform threads, scanning them all made a new virtual thread's first allocation take 1.9-3.4
     * µs against 0.8-1.4 (a plain loop), at thousands of new virtual threads a second.
     */
    private final List<Owned> ownedVirtual = new ArrayList<>();
    /** The most caches that live virtual threads may hold at once; past it they use the stripes. */
    private final int virtualCacheLimit;
    /** Virtual threads' caches being made outside the registry lock, counted against the limit. */
    private int virtualCachesMaking;
    /**
     * Whether {@link #ownedVirtual} and {@link #virtualCachesMaking} reach the limit, for the virtual
     * threads' fast paths to read without the lock: set under it whenever either changes. Plain: a
     * stale value sends a virtual thread to the stripes once more, or to the registry, which counts
     * under the lock.
     */
    private boolean virtualCachesFull;
    /** Counters of caches whose threads have ended, folded in when they were flushed. */
    private final long[] retiredMallocs = new long[SizeClasses.COUNT];
    private final long[] retiredFrees = new long[SizeClasses.COUNT];
    private volatile boolean closed;

    /**
     * A thread's registration: its thread, the cleaner registration that reaps its cache
     * when the thread ends, and the cache, set when the registry gives it one. A platform thread's is
     * made before the registry changes, so that registering allocates nothing once an ended thread's
     * cache is taken; a virtual thread's only once it is to have a cache (see register).
     */
    private static final class Owned {
        final WeakReference<Thread> owner;
        final Cleaner.Cleanable onThreadEnd;
        final boolean virtual;
        ThreadCache cache;

        Owned(WeakReference<Thread> owner, Cleaner.Cleanable onThreadEnd, boolean virtual) {
            this.owner = owner;
            this.onThreadEnd = onThreadEnd;
            this.virtual = virtual;
        }

        boolean ended() {
            Thread thread = owner.get();
            return thread == null || !thread.isAlive();
        }
    }

    private final PageHeap pageHeap;
    /** Gives each new thread's cache its sampling rate and first distance to a sample. */
    private final HeapProfiler profiler;
    /** {large frees, bytes} through the caches of threads that have ended. */
    private final long[] retiredLargeFrees = new long[2];

    /**
     * @param onSlotTableResize told the fast paths' mirror of {@link ThreadSlots} whenever it is replaced, so that
     *                          the fast paths can hold it in a field of their own
     */
    ThreadCaches(CentralList[] centrals, CacheBudget budget, int stripeCount, int virtualCacheLimit, PageHeap pageHeap,
                 java.util.function.Consumer<long[][]> onSlotTableResize, HeapProfiler profiler) {
        this.virtualCacheLimit = virtualCacheLimit;
        this.virtualCachesFull = virtualCacheLimit == 0;
        this.profiler = profiler;
        this.slots = new ThreadSlots(onSlotTableResize);
        this.pageHeap = pageHeap;
        this.centrals = centrals;
        this.budget = budget;
        this.stripes = new StripedCaches(centrals, budget, stripeCount, pageHeap, profiler);
    }

    /** The virtual threads' shared caches. */
    StripedCaches stripes() {
        return stripes;
    }

    /** The current table of {@link ThreadSlots}, for tests. */
    ThreadCache[] slotTable() {
        return slots.table();
    }

    /**
     * The calling thread's cache, made on first use; null on a virtual thread that has none (see
     * {@link #register}). The slot table first, the {@link ThreadLocal} (which makes and registers
     * caches) when it misses.
     */
    ThreadCache currentCache() {
        ThreadCache cache = slots.cacheOf(Thread.currentThread().threadId());
        return cache != null ? cache : local.get();
    }

    /**
     * The calling thread's new cache: the cache of a thread that has ended, if the registry holds
     * one, else a new one. Adopting saves most of what a new thread's first allocation cost
     * (larson's rounds, a new thread each: 43 µs against TCMalloc's 2, about half making the cache's
     * 73 KiB array and half flushing the ended thread's cache; 20 µs adopting, most of it the
     * thread's first Java allocation), and the new thread starts with the objects and the limits
     * the ended one had grown, as a thread pool's next worker would.
     *
     * <p>A virtual thread gets a cache only while fewer than {@link #virtualCacheLimit} live virtual
     * threads hold one, or when it can take over an ended thread's; otherwise null, which the
     * {@link ThreadLocal} keeps for the thread's life, and its small blocks go through its carrier's
     * stripe. A refused virtual thread allocates nothing here: a server may start a hundred
     * thousand of them a second.
     */
    private ThreadCache register() {
        StackHeadroom.ensure();
        Thread thread = Thread.currentThread();
        boolean virtual = thread.isVirtual();
        // A full Java heap fails this, not what follows: once an ended thread's cache is taken out
        // of the registry, an OutOfMemoryError would lose it and the objects it holds. A virtual
        // thread's is made only once it is to have a cache (see newRegistrationOrRetire).
        Owned registration = virtual ? null : newRegistration(thread);
        LockWaits.lock(registryLock);
        try {
            if (closed) {
                throw FreeChecks.closed();
            }
            // Each kind takes over its own kind's caches, so that the list has room (see add).
            ThreadCache adopted = virtual ? reap(ownedVirtual, true) : reapLocked(true);
            // Counted after the reap, which took the ended virtual threads' caches out. A virtual
            // thread whose slot a live thread holds would find its cache only through the
            // ThreadLocal, on the slow paths, and virtual threads do not grow the table (see
            // ThreadSlots): such a thread uses the stripes instead.
            if (virtual && (ownedVirtual.size() + virtualCachesMaking >= virtualCacheLimit
                    || !slots.isFree(thread.threadId()))) {
                if (adopted != null) {
                    retire(adopted);
                }
                return null;
            }
            if (adopted != null) {
                return adopt(registration != null ? registration : newRegistrationOrRetire(thread, adopted), adopted);
            }
            if (virtual) {
                virtualCachesMaking++;
                countedVirtualCaches();
            }
        } finally {
            registryLock.unlock();
        }
        ThreadCache cache = null;
        try {
            if (registration == null) {
                registration = newRegistration(thread);
            }
            // Made outside the lock: 73 KiB of zeroed Java heap.
            cache = new ThreadCache(centrals, budget, thread.threadId(), pageHeap, profiler.newSampleRate(),
                    profiler.nextSampleDistance());
        } finally {
            LockWaits.lock(registryLock);
            try {
                // Counted as made and as held under one lock: between the two, another virtual
                // thread would find room for one more than the limit.
                if (virtual) {
                    virtualCachesMaking--;
                    countedVirtualCaches();
                }
                if (cache != null) {
                    if (closed) {
                        throw FreeChecks.closed();
                    }
                    if (virtual) {
                        reap(ownedVirtual, false);
                    } else {
                        reapLocked();
                    }
                    add(registration, cache);
                }
            } finally {
                registryLock.unlock();
            }
        }
        return cache;
    }

    /** Updates {@link #virtualCachesFull} after a change of the counts. Registry lock. */
    private void countedVirtualCaches() {
        virtualCachesFull = ownedVirtual.size() + virtualCachesMaking >= virtualCacheLimit;
    }

    /**
     * Whether as many live virtual threads hold caches as the limit allows, or were when last
     * counted: a virtual thread without a cache then goes to its stripe without asking the
     * registry ({@code Heap.allocateUnslotted}), which saves it a {@link ThreadLocal} lookup per
     * allocation (about 8 ns of a 16 B pair through the stripes). It asks once the count is below
     * the limit again, which the registry learns when it reaps the ended threads' caches: at a
     * virtual thread's registration, a stripe's refill (through SlowAllocations), the scavenger's
     * cycle, a statistics snapshot, or a cleaner's run after an ended thread is collected.
     */
    boolean virtualCachesFull() {
        return virtualCachesFull;
    }

    private Owned newRegistration(Thread thread) {
        return new Owned(new WeakReference<>(thread), reapWhenEnded(thread), thread.isVirtual());
    }

    /**
     * A virtual thread's registration, made with an ended thread's cache already out of the
     * registry: if the Java heap is full, that cache is flushed to the central lists, not lost.
     * Registry lock.
     */
    private Owned newRegistrationOrRetire(Thread thread, ThreadCache ended) {
        try {
            return newRegistration(thread);
        } catch (OutOfMemoryError fullJavaHeap) {
            retire(ended);
            throw fullJavaHeap;
        }
    }

    /** Gives {@code ended}, an ended thread's cache, to {@code registration}'s thread. Registry lock. */
    private ThreadCache adopt(Owned registration, ThreadCache ended) {
        ended.adopt(Thread.currentThread().threadId());
        add(registration, ended);
        return ended;
    }

    /**
     * Registers {@code cache} as {@code registration}'s thread's; under the registry's lock. After an
     * adoption the list has room (the ended thread's entry left it, and an ArrayList never shrinks),
     * so nothing here allocates but a growth of the slot table, which is only the fast paths' index:
     * without a slot, the thread finds its cache through the ThreadLocal.
     */
    private void add(Owned registration, ThreadCache cache) {
        registration.cache = cache;
        if (registration.virtual) {
            ownedVirtual.add(registration);
            countedVirtualCaches();
        } else {
            owned.add(registration);
        }
        try {
            // A virtual thread's slot was free when it asked; a platform thread that took it since
            // leaves this one to its ThreadLocal, on the slow paths.
            slots.add(cache, !registration.virtual);
        } catch (OutOfMemoryError fullJavaHeap) {
            // The table is as it was (ThreadSlots publishes a grown table only once it is whole).
        }
    }

    /**
     * Reaps when {@code thread} ends. The action holds this registry weakly: a strong reference
     * from a cleaner registered on a long-lived thread kept every closed heap's caches, central
     * lists and page heap reachable until that thread ended (found by ApiFuzzTest, which makes a
     * heap per input on one thread and ran out of Java heap).
     */
    private Cleaner.Cleanable reapWhenEnded(Thread thread) {
        WeakReference<ThreadCaches> registry = new WeakReference<>(this);
        return CLEANER.register(thread, () -> {
            ThreadCaches caches = registry.get();
            if (caches != null) {
                caches.reap();
            }
        });
    }

    /** Flushes the caches of threads that have ended. */
    void reap() {
        LockWaits.lock(registryLock);
        try {
            if (!closed) {
                reapLocked();
            }
        } finally {
            registryLock.unlock();
        }
    }

    private void reapLocked() {
        reapLocked(false);
    }

    /**
     * Takes the caches of ended threads out of the registry and flushes them, except, when
     * {@code keepOne}, the first of a platform thread, which it returns unflushed for a new platform
     * thread to adopt (null if none has ended).
     */
    private ThreadCache reapLocked(boolean keepOne) {
        reap(ownedVirtual, false);
        return reap(owned, keepOne);
    }

    /** {@link #reapLocked} over {@code registrations} alone. Registry lock. */
    private ThreadCache reap(List<Owned> registrations, boolean keepOne) {
        ThreadCache kept = null;
        for (Iterator<Owned> it = registrations.iterator(); it.hasNext(); ) {
            Owned entry = it.next();
            if (entry.ended()) {
                // Thread.isAlive() returning false orders the ended thread's writes before ours.
                ThreadCache cache = entry.cache;
                slots.remove(cache);
                if (keepOne && kept == null) {
                    kept = cache;
                } else {
                    retire(cache);
                }
                it.remove();
                if (entry.virtual) {
                    countedVirtualCaches();
                }
            }
        }
        return kept;
    }

    private void retire(ThreadCache cache) {
        cache.flush();
        cache.addLargeFrees(retiredLargeFrees);
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            retiredMallocs[c] += cache.mallocs(c);
            retiredFrees[c] += cache.frees(c);
        }
    }

    /**
     * Flushes the calling thread's cache (its objects go back to the central lists). A virtual
     * thread's is found in the slot table only, without the {@link ThreadLocal}, which would give
     * one that has none a cache just to flush it.
     */
    void flushCurrent() {
        Thread thread = Thread.currentThread();
        ThreadCache cache = thread.isVirtual() ? slots.cacheOf(thread.threadId()) : local.get();
        if (cache != null) {
            cache.flush();
        }
    }


    /**
     * Visits every cache that can hold objects, with the registry locked: the live threads' caches
     * and the stripes. The visitor must not assume the owners are quiet.
     */
    void forEachCache(java.util.function.Consumer<ThreadCache> visitor) {
        LockWaits.lock(registryLock);
        try {
            reapLocked();
            for (Owned entry : owned) {
                visitor.accept(entry.cache);
            }
            for (Owned entry : ownedVirtual) {
                visitor.accept(entry.cache);
            }
            stripes.forEach(visitor);
        } finally {
            registryLock.unlock();
        }
    }

    /**
     * Adds the per-class free counts of every cache, live or retired, into {@code frees}, and the
     * large frees {count, bytes} through the caches into {@code largeFrees}: the first half of a
     * statistics snapshot, read before {@link #addMallocs} (see HeapStatistics).
     */
    void addFrees(long[] frees, long[] largeFrees) {
        addCounts(retiredFrees, frees, ThreadCache::frees, largeFrees);
    }

    /**
     * Adds the per-class malloc counts of every cache, live or retired, into {@code mallocs}. No
     * large block is counted out of a cache: a kept span goes out only as a sample, which the
     * profiler counts.
     */
    void addMallocs(long[] mallocs) {
        addCounts(retiredMallocs, mallocs, ThreadCache::mallocs, null);
    }

    /** One of a cache's per-class counts. */
    private interface ClassCount {
        long of(ThreadCache cache, int c);
    }

    /**
     * Adds {@code retired} and every cache's {@code count} into {@code into} by class, and, unless
     * {@code largeFrees} is null, the retired and the caches' large frees {count, bytes} into it.
     */
    private void addCounts(long[] retired, long[] into, ClassCount count, long[] largeFrees) {
        LockWaits.lock(registryLock);
        try {
            reapLocked();
            for (int c = 1; c < SizeClasses.COUNT; c++) {
                into[c] += retired[c];
            }
            if (largeFrees != null) {
                largeFrees[0] += retiredLargeFrees[0];
                largeFrees[1] += retiredLargeFrees[1];
            }
            forEachCache(cache -> {
                if (largeFrees != null) {
                    cache.addLargeFrees(largeFrees);
                }
                for (int c = 1; c < SizeClasses.COUNT; c++) {
                    into[c] += count.of(cache, c);
                }
            });
        } finally {
            registryLock.unlock();
        }
    }

    /** Runs {@code action} under the registry's lock, which every change of the slot table holds. */
    void publishUnderLock(Runnable action) {
        LockWaits.lock(registryLock);
        try {
            action.run();
        } finally {
            registryLock.unlock();
        }
    }

    /** Caches that exist now (live threads' and the stripes). */
    int cacheCount() {
        LockWaits.lock(registryLock);
        try {
            reapLocked();
            return owned.size() + ownedVirtual.size() + stripes.count();
        } finally {
            registryLock.unlock();
        }
    }

    void close() {
        LockWaits.lock(registryLock);
        try {
            closed = true;
            // Unregisters from the cleaners of live threads; the actions find the registry closed.
            owned.forEach(entry -> entry.onThreadEnd.clean());
            owned.clear();
            ownedVirtual.forEach(entry -> entry.onThreadEnd.clean());
            ownedVirtual.clear();
        } finally {
            registryLock.unlock();
        }
    }
}
