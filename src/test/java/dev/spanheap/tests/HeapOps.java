package dev.spanheap.tests;

import static dev.spanheap.proptest.Gen.weighted;

import dev.spanheap.proptest.Gen;
import java.util.List;

/** Generators of {@link HeapOp} sequences; the first alternative of each is the simplest. */
final class HeapOps {

    /** The heap's hard limit in these workloads: small enough that over-limit sizes are cheap to try. */
    static final long MAX_HEAP = 1L << 30;

    private HeapOps() {
    }

    /** Sizes log-uniform from 0 to {@code max}: tiny, every class, cached and page-heap large blocks. */
    static Gen<Long> sizes(long max) {
        return Gen.logUniform(0, max);
    }

    static Gen<Long> alignments() {
        return Gen.frequency(
                weighted(8, Gen.constant(1L)),
                weighted(3, Gen.ints(0, 6).map(bits -> 1L << bits)),
                weighted(1, Gen.ints(7, 16).map(bits -> 1L << bits)));
    }

    static Gen<Long> badSizes() {
        return Gen.elements(-1L, -8192L, Long.MIN_VALUE, MAX_HEAP * 2, Long.MAX_VALUE);
    }

    static Gen<Long> badAlignments() {
        return Gen.elements(0L, 3L, 6L, 48L, -8L, -56L, -1L, Long.MIN_VALUE, (1L << 20) + 1, 1L << 40, 1L << 62);
    }

    /**
     * Steps on {@code threads} threads (1 or 2), bad input among them, and a close now and then when
     * {@code withClose}.
     */
    static Gen<List<HeapOp>> sequences(int threads, long maxSize, boolean withClose, int maxSteps) {
        Gen<Integer> thread = Gen.ints(0, threads - 1);
        Gen<Integer> pick = Gen.ints(0, 1 << 16);
        Gen<HeapOp.Via> via = Gen.elements(HeapOp.Via.values());
        Gen<HeapOp> allocate = thread.flatMap(t -> sizes(maxSize).flatMap(size -> alignments()
                .flatMap(alignment -> via.map(v -> new HeapOp.Allocate(t, size, v == HeapOp.Via.ADDRESS ? 1 : alignment, v)))));
        Gen<HeapOp> free = thread.flatMap(t -> pick.flatMap(p -> via.map(v -> new HeapOp.Free(t, p, v))));
        Gen<HeapOp> zeroed = thread.flatMap(t -> sizes(maxSize).map(size -> new HeapOp.AllocateZeroed(t, size)));
        Gen<HeapOp> usable = thread.flatMap(t -> pick.map(p -> new HeapOp.UsableSize(t, p)));
        Gen<HeapOp> release = thread.map(HeapOp.ReleaseMemory::new);
        Gen<HeapOp> flush = thread.map(HeapOp.FlushThreadCache::new);
        Gen<HeapOp> stale = thread.flatMap(t -> pick.map(p -> new HeapOp.FreeStale(t, p)));
        Gen<HeapOp> interior = thread.flatMap(t -> pick.flatMap(p -> Gen.longs(0, 1L << 22)
                .map(delta -> new HeapOp.FreeInterior(t, p, delta))));
        Gen<HeapOp> foreign = thread.flatMap(t -> Gen.elements(HeapOp.Foreign.values())
                .map(what -> new HeapOp.FreeForeign(t, what)));
        Gen<HeapOp> badAllocate = thread.flatMap(t -> Gen.frequency(
                weighted(1, badSizes().map(size -> new HeapOp.BadAllocate(t, size, 1))),
                weighted(1, sizes(64 << 10).flatMap(size -> badAlignments()
                        .map(alignment -> new HeapOp.BadAllocate(t, size, alignment))))));
        Gen<HeapOp> reallocate = thread.flatMap(t -> pick.flatMap(p -> sizes(maxSize).flatMap(size -> Gen
                .elements(HeapOp.Via.SEGMENT, HeapOp.Via.ADDRESS).map(v -> new HeapOp.Reallocate(t, p, size, v)))));
        Gen<HeapOp> useAfterFree = thread.flatMap(t -> pick.map(p -> new HeapOp.UseAfterFree(t, p)));
        Gen<HeapOp> wholeHeap = thread.map(HeapOp.AllocateWholeHeap::new);
        Gen<HeapOp> close = thread.map(HeapOp.Close::new);
        Gen<HeapOp> step = Gen.frequency(
                weighted(30, allocate),
                weighted(22, free),
                weighted(4, zeroed),
                weighted(3, usable),
                weighted(5, reallocate),
                weighted(2, useAfterFree),
                weighted(2, release),
                weighted(3, flush),
                weighted(6, stale),
                weighted(2, interior),
                weighted(2, foreign),
                weighted(2, badAllocate),
                weighted(1, wholeHeap),
                weighted(1, withClose ? close : flush));
        return Gen.lists(step, 1, maxSteps);
    }
}
