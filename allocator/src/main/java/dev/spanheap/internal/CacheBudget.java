package dev.spanheap.internal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bytes all thread caches of one heap may hold between them. A cache asks for budget before it
 * lets any class hold more objects and gives it all back when its thread ends, so total cache
 * memory stays under {@code totalBytes} however many threads there are (TCMalloc's overall thread
 * cache size). A cache that gets nothing still works: it passes every object straight to the
 * central lists.
 *
 * <p>One cache may hold up to {@code perCacheBytes}, but never more than an equal share of the
 * pool among the caches holding budget ({@link #shareCap}): one or two busy threads get the
 * per-cache most (large blocks then stay in their threads, see {@link ThreadCache}), and with more
 * threads each gets what TCMalloc's defaults would give it. A cache that holds more than its share
 * when other threads start gives the excess back at its next review ({@link ThreadCache#review}),
 * which its own slow paths run; a thread that no longer allocates keeps what it holds until it ends
 * (no other thread may touch its cache).
 */
final class CacheBudget {

    /** Caches ask for budget in pieces of at least this size. */
    static final long CHUNK = 64 << 10;

    private final long totalBytes;
    private final long perCacheBytes;
    private final AtomicLong granted = new AtomicLong();
    /** Caches that have asked for budget and not given it all back: see {@link #startHolding}. */
    private final AtomicInteger holders = new AtomicInteger();

    CacheBudget(long totalBytes, long perCacheBytes) {
        this.totalBytes = totalBytes;
        this.perCacheBytes = Math.min(perCacheBytes, totalBytes);
    }

    long perCacheBytes() {
        return perCacheBytes;
    }

    long totalBytes() {
        return totalBytes;
    }

    long granted() {
        return granted.get();
    }

    /** Grants up to {@code wanted} bytes, less if the pool is short; returns what was granted. */
    long request(long wanted) {
        while (true) {
            long current = granted.get();
            long grant = Math.min(wanted, totalBytes - current);
            if (grant <= 0) {
                return 0;
            }
            if (granted.compareAndSet(current, current + grant)) {
                return grant;
            }
        }
    }

    /**
     * Grants at least {@code needed} bytes, asking for a {@link #CHUNK} or more so that caches come
     * back rarely, but never past {@code room}; less if the pool is short. Returns what was granted.
     */
    long requestChunk(long room, long needed) {
        long wanted = Math.min(room, Math.max(CHUNK, needed));
        return wanted > 0 ? request(wanted) : 0;
    }

    void giveBack(long bytes) {
        granted.addAndGet(-bytes);
    }

    /** A cache starts asking for budget; it counts towards the share until {@link #stopHolding}. */
    void startHolding() {
        holders.incrementAndGet();
    }

    /** A cache that {@link #startHolding started} has given its budget back. */
    void stopHolding() {
        holders.decrementAndGet();
    }

    int holders() {
        return holders.get();
    }

    /**
     * The most one holding cache may have now: the per-cache most, or the pool divided among the
     * caches holding budget, whichever is less.
     */
    long shareCap() {
        return Math.min(perCacheBytes, totalBytes / Math.max(1, holders.get()));
    }
}
