package dev.spanheap.internal;

import dev.spanheap.MemStats;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds {@link MemStats} snapshots. The fast figures fold the per-cache counters (as Go folds its
 * mcache counters) and the page heap's page counts; {@link #recount} walks the span records and the
 * caches instead, so that tests can compare the two.
 */
public final class HeapStatistics {

    private final Heap heap;

    public HeapStatistics(Heap heap) {
        this.heap = heap;
    }

    /** The fast snapshot. */
    public MemStats snapshot() {
        // Reading the counts flushes the caches of ended threads: a slow path like any other.
        StackHeadroom.ensure();
        heap.checkOpen();
        long[] mallocs = new long[SizeClasses.COUNT];
        long[] frees = new long[SizeClasses.COUNT];
        long[] largeFreesThroughCaches = new long[2];
        LargeBlocks pageHeapLarge = heap.large();
        // Every free first, then every allocation. The counters move while other threads run, and a
        // block is often allocated through one counter and freed through another (another thread's
        // cache, the page heap); each free counted here came after its allocation, which the second
        // pass, later, counts too. Read together, cache by cache, a snapshot taken beside a thread
        // that frees what another allocates counted 143 more frees than allocations.
        heap.caches().addFrees(frees, largeFreesThroughCaches);
        long largeFrees = pageHeapLarge.frees() + largeFreesThroughCaches[0];
        long largeBytesFreed = pageHeapLarge.bytesFreed() + largeFreesThroughCaches[1];
        heap.caches().addMallocs(mallocs);
        // Large blocks are handed out by the page heap alone: a thread's kept spans serve only samples.
        long largeMallocs = pageHeapLarge.mallocs();
        long largeBytesAllocated = pageHeapLarge.bytesAllocated();
        // Sampled blocks are counted by the profiler alone, allocations and frees under one lock.
        long[] sampledLarge = new long[4];
        heap.profiler().addCounts(mallocs, frees, sampledLarge);
        long[] cached = {0};
        heap.caches().forEachCache(cache -> cached[0] += cache.cachedBytes());
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            cached[0] += (long) heap.central(c).transferred() * SizeClasses.SIZE[c];
        }
        return build(mallocs, frees, cached[0], largeMallocs + sampledLarge[0], largeFrees + sampledLarge[2],
                largeBytesAllocated + sampledLarge[1], largeBytesFreed + sampledLarge[3]);
    }

    private MemStats build(long[] mallocs, long[] frees, long cachedBytes, long largeMallocs, long largeFrees,
                           long largeBytesAllocated, long largeBytesFreed) {
        PageHeap.PageCounts pages = heap.pageHeap().counts();
        long totalMallocs = largeMallocs;
        long totalFrees = largeFrees;
        long heapAlloc = largeBytesAllocated - largeBytesFreed;
        long totalAlloc = largeBytesAllocated;
        List<MemStats.SizeClassStats> bySize = new ArrayList<>();
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            long size = SizeClasses.SIZE[c];
            totalMallocs += mallocs[c];
            totalFrees += frees[c];
            heapAlloc += (mallocs[c] - frees[c]) * size;
            totalAlloc += mallocs[c] * size;
            bySize.add(new MemStats.SizeClassStats((int) size, mallocs[c], frees[c]));
        }
        long heapSys = (long) pages.committed() << Pages.SHIFT;
        long heapIdle = (long) pages.free() << Pages.SHIFT;
        long heapReleased = (long) pages.releasedFree() << Pages.SHIFT;
        long spanMetadata = pages.spanMetadataBytes() + PageMap.bytesFor(pages.committed())
                + FreeMarks.bytesFor(heapSys);
        long cacheMetadata = heap.caches().cacheCount() * ThreadCache.footprintBytes();
        return new MemStats(heapSys + spanMetadata + cacheMetadata, heapSys, heapAlloc, heapSys - heapIdle,
                heapIdle, heapReleased, totalMallocs - totalFrees, totalMallocs, totalFrees, totalAlloc,
                spanMetadata, cacheMetadata, cachedBytes, bySize);
    }

    /** What the structures hold, by walking them: live objects and live bytes. At rest only. */
    public Recount recount() {
        PageHeap pageHeap = heap.pageHeap();
        SpanTable spans = pageHeap.spans;
        long[] outOfSpans = new long[SizeClasses.COUNT];
        long largeBlocks = 0;
        long largeBytes = 0;
        LockWaits.lock(pageHeap.lock);
        try {
            for (int id = 1; id < spans.highWater(); id++) {
                byte state = spans.state(id);
                if (state == SpanTable.SMALL) {
                    outOfSpans[spans.sizeClass(id)] += spans.objects(id) - spans.freeObjects(id);
                } else if (state == SpanTable.LARGE) {
                    largeBlocks++;
                    largeBytes += (long) spans.pages(id) << Pages.SHIFT;
                } else if (state == SpanTable.SAMPLED) {
                    largeBlocks++;
                    largeBytes += heap.profiler().blockSize(pageHeap.base() + ((long) spans.start(id) << Pages.SHIFT));
                }
            }
        } finally {
            pageHeap.lock.unlock();
        }
        long[] cachedObjects = new long[SizeClasses.COUNT];
        heap.caches().forEachCache(cache -> {
            for (int c = 1; c < SizeClasses.COUNT; c++) {
                cachedObjects[c] += cache.depth(c);
            }
        });
        long objects = largeBlocks;
        long bytes = largeBytes;
        for (int c = 1; c < SizeClasses.COUNT; c++) {
            long live = outOfSpans[c] - cachedObjects[c] - heap.central(c).transferred();
            objects += live;
            bytes += live * SizeClasses.SIZE[c];
        }
        return new Recount(objects, bytes);
    }

    /** Live blocks and bytes found by walking the structures. */
    public record Recount(long heapObjects, long heapAlloc) {
    }
}
