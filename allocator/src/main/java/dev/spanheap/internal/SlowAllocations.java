package dev.spanheap.internal;

import dev.spanheap.OsMemoryException;

/**
 * Every allocation that {@link Heap}'s fast paths do not serve: the argument checks and their
 * messages, the class for any alignment, the profile's samples, large blocks, a virtual thread's
 * stripe, a thread cache's refill, and when the page heap cannot hold a request, the idle
 * memory given back and one more try before the refusal. Kept apart from the fast paths so that
 * they stay short; they reach this through one call out of line.
 */
final class SlowAllocations {

    /** {@link #allocate}'s sampling: count the request towards the next sample first. */
    static final int COUNT_TOWARDS_SAMPLE = 0;
    /** {@link #allocate}'s sampling: already counted, and not sampled. */
    static final int COUNTED = 1;
    /** {@link #allocate}'s sampling: counted, and this allocation is the sample. */
    static final int SAMPLE = 2;

    private final Heap heap;
    private final PageHeap pageHeap;
    private final ThreadCaches caches;
    private final HeapProfiler profiler;
    private final SampledAllocations sampled;
    private final LargeBlocks large;
    /** The heap's hard limit in bytes, which the refusals name. */
    private final long reservedBytes;

    SlowAllocations(Heap heap, PageHeap pageHeap, ThreadCaches caches, HeapProfiler profiler, SampledAllocations sampled,
            LargeBlocks large) {
        this.heap = heap;
        this.pageHeap = pageHeap;
        this.caches = caches;
        this.profiler = profiler;
        this.sampled = sampled;
        this.large = large;
        this.reservedBytes = pageHeap.reservedBytes();
    }

    /**
     * Every allocation the fast paths do not serve; {@code sampling} says whether the request was
     * counted towards the profiler's next sample already, and if it is that sample. A failure that
     * raced {@link Heap#close()} (a span table read after close, a page heap that refuses) is reported
     * as the close.
     */
    long allocate(long size, long alignment, int sampling) {
        try {
            return allocateChecked(size, alignment, sampling);
        } catch (RuntimeException | OutOfMemoryError e) {
            if (heap.isClosed()) {
                throw FreeChecks.closed();
            }
            throw e;
        }
    }

    private long allocateChecked(long size, long alignment, int sampling) {
        heap.checkOpen();
        if (size < 0) {
            throw new IllegalArgumentException("negative size: " + size);
        }
        if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
            throw new IllegalArgumentException("alignment must be a power of two: " + alignment);
        }
        if (size > reservedBytes) {
            throw new IllegalArgumentException(String.format(
                    "size %d exceeds the heap's limit of %d bytes", size, reservedBytes));
        }
        if (alignment > reservedBytes) {
            // No block of this heap can be aligned so (and the page heap counts alignment slack in int pages).
            throw new IllegalArgumentException(String.format(
                    "alignment %d exceeds the heap's limit of %d bytes", alignment, reservedBytes));
        }
        // A zero-size request gets the smallest block, so every address handed out is distinct.
        long request = Math.max(size, 1);
        long naturalAlignment = request >= 16 ? 16 : Long.highestOneBit(request);
        long effectiveAlignment = Math.max(alignment, naturalAlignment);
        int c = SizeClassLookup.smallClassFor(request, effectiveAlignment);
        ThreadCache own = caches.local.get();
        // A virtual thread's sample is weighed with the rate its stripe's countdown was drawn at.
        long sharedSampleRate = 0;
        if (sampling == COUNT_TOWARDS_SAMPLE && own == null && c != 0) {
            // A virtual thread's small request counts in its stripe's countdown under the lock of its
            // pop: one lock for both, and no line that every carrier writes.
            long popped = caches.stripes().allocateShared(c, profiler.rate() != 0 ? request : 0);
            if (popped > 0) {
                return heap.handedOut(popped, c);
            }
            sharedSampleRate = -popped;
            sampling = popped < 0 ? SAMPLE : COUNTED;
        }
        if (sampling == COUNT_TOWARDS_SAMPLE) {
            if (own != null) {
                sampling = sampled.countTowardsSample(own, request) ? SAMPLE : COUNTED;
            } else {
                sharedSampleRate = caches.stripes().countTowardsSample(request);
                sampling = sharedSampleRate != 0 ? SAMPLE : COUNTED;
            }
        }
        long address;
        OsMemoryException growthRefused = null;
        try {
            address = allocateFromCachesOrPages(request, effectiveAlignment, c, own, sampling == SAMPLE,
                    sharedSampleRate);
        } catch (OsMemoryException e) {
            address = 0;
            growthRefused = e;
        }
        if (address == 0) {
            // The limit counts what users hold, not what waits idle for them: that goes back to the
            // page heap and the request tries once more, as ByteBuffer.allocateDirect collects
            // garbage before it gives up. Only other live threads' caches keep theirs. Likewise
            // when the OS refused more memory: the idle memory may hold the request without it.
            reclaimIdleMemory();
            address = allocateFromCachesOrPages(request, effectiveAlignment, c, own, sampling == SAMPLE,
                    sharedSampleRate);
            if (address == 0) {
                if (growthRefused != null) {
                    throw growthRefused;
                }
                throw outOfMemory(size, alignment);
            }
        }
        return address;
    }

    /**
     * {@link #allocateChecked}'s checked request: a sample, a large block, or an object of class
     * {@code c} from the thread's cache ({@code own}, null on a virtual thread without one) or its stripe.
     * Returns 0 when the page heap cannot hold what it needs. {@code sharedSampleRate}: for a virtual
     * thread's sample, the rate its stripe's countdown was drawn at.
     */
    private long allocateFromCachesOrPages(long request, long alignment, int c, ThreadCache own,
            boolean sample, long sharedSampleRate) {
        if (sample) {
            StackHeadroom.ensure();
            return sampled.allocate(request, alignment, c, own, heap.fastPaths(), sharedSampleRate);
        }
        if (c == 0) {
            return allocateLarge(request, alignment);
        }
        long address;
        if (own == null) {
            address = caches.stripes().allocateShared(c, 0);
        } else {
            address = own.allocate(c);
            if (address == 0) {
                StackHeadroom.ensure();
                address = own.refill(c);
            }
        }
        return address == 0 ? 0 : heap.handedOut(address, c);
    }

    /**
     * A block with no size class (over 1 MiB, or aligned past a page), or 0 when the page heap cannot
     * hold it. Always from the page heap: a thread's kept spans serve samples only.
     */
    private long allocateLarge(long size, long alignment) {
        StackHeadroom.ensure();
        int pages = Math.toIntExact((size + Pages.SIZE - 1) >>> Pages.SHIFT);
        return large.allocate(pages, alignment);
    }

    /**
     * Gives the page heap back what sits idle above it: the calling thread's cache, the virtual
     * threads' stripes, the caches of ended threads, the central transfer stacks and kept empty
     * spans. Before an allocation is refused.
     */
    private void reclaimIdleMemory() {
        StackHeadroom.ensure();
        try {
            caches.flushCurrent();
            caches.stripes().flush();
            heap.releaseIdleCentralMemory();
        } catch (OsMemoryException refused) {
            // Best effort: a refused madvise on the way leaves those pages to the scavenger, and
            // whatever came back to the page heap before it is there for the retry.
        }
    }

    /** The refusal of a request for {@code size} bytes aligned to {@code alignment}, with the figures. */
    private OutOfMemoryError outOfMemory(long size, long alignment) {
        PageHeap.PageCounts counts = pageHeap.counts();
        // The alignment only where it may be why: every block is 16-byte aligned anyway.
        String aligned = alignment > 16 ? " aligned to " + alignment : "";
        // What the callers hold, beside the pages in use: far below them, the rest is other live
        // threads' caches, or free space split into runs too short for the request.
        long handedOut = new HeapStatistics(heap).snapshot().heapAlloc();
        return new OutOfMemoryError(String.format(
                "Spanheap cannot allocate %d bytes%s: the heap's limit is %d bytes and %d bytes are in use "
                        + "(%d in blocks handed out)",
                size, aligned, reservedBytes, (long) counts.inUse() << Pages.SHIFT, handedOut));
    }
}
