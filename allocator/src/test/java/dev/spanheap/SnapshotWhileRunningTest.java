package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * {@link Spanheap#memStats()} taken while other threads allocate and free: the counters it sums
 * move meanwhile, but every block live throughout the snapshot is counted: never more frees than
 * allocations of a size, nor a negative count in use.
 */
class SnapshotWhileRunningTest {

    private static final int KEPT = 100;

    @Test
    void aSnapshotCountsEveryBlockLiveThroughoutIt() throws Exception {
        try (Spanheap heap = Spanheap.builder().scavenger(false).profileRate(0).build()) {
            // Blocks of each size that stay live throughout: every snapshot must count them.
            long[] sizes = {16, 2000, 2 << 20};
            List<Long> kept = new ArrayList<>();
            Map<Integer, Integer> keptBySize = new HashMap<>();
            for (long size : sizes) {
                for (int i = 0; i < KEPT; i++) {
                    kept.add(heap.malloc(size));
                }
                if (size < 1 << 20) {
                    keptBySize.put((int) heap.usableSize(kept.getLast()), KEPT);
                }
            }
            // One thread allocates, another frees what it allocated: each block's free is counted
            // in another cache than its allocation, and few blocks are live at any time.
            BlockingQueue<Long> handOff = new ArrayBlockingQueue<>(16);
            AtomicBoolean done = new AtomicBoolean();
            Thread allocator = Thread.ofPlatform().start(() -> {
                long size = sizes[0];
                while (!done.get()) {
                    long block = heap.malloc(size);
                    try {
                        while (!handOff.offer(block, 10, TimeUnit.MILLISECONDS)) {
                            if (done.get()) {
                                heap.free(block);
                                return;
                            }
                        }
                    } catch (InterruptedException e) {
                        heap.free(block);
                        return;
                    }
                    size = size == sizes[0] ? sizes[1] : size == sizes[1] ? sizes[2] : sizes[0];
                }
            });
            Thread freer = Thread.ofPlatform().start(() -> {
                while (!done.get() || !handOff.isEmpty()) {
                    try {
                        Long block = handOff.poll(10, TimeUnit.MILLISECONDS);
                        if (block != null) {
                            heap.free(block);
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
            try {
                for (int i = 0; i < 3000; i++) {
                    MemStats stats = heap.memStats();
                    // A free caught between its push and its count reads one low per cache and
                    // size (see ThreadCache.mallocs): two caches free here.
                    assertThat(stats.heapObjects()).as("snapshot %d: %s", i, stats)
                            .isGreaterThanOrEqualTo(kept.size() - 2L * sizes.length);
                    assertThat(stats.heapObjects()).isEqualTo(stats.mallocs() - stats.frees());
                    for (MemStats.SizeClassStats size : stats.bySize()) {
                        assertThat(size.mallocs() - size.frees()).as("snapshot %d, %d B", i, size.size())
                                .isGreaterThanOrEqualTo(keptBySize.getOrDefault(size.size(), 0) - 2L);
                    }
                }
            } finally {
                done.set(true);
                allocator.join();
                freer.join();
            }
            // The allocator's last block may have gone in after the freer's last look.
            for (Long block = handOff.poll(); block != null; block = handOff.poll()) {
                heap.free(block);
            }
            assertThat(heap.memStats().heapObjects()).as("at rest").isEqualTo(kept.size());
            kept.forEach(heap::free);
            MemStats atRest = heap.memStats();
            assertThat(atRest.heapObjects()).isZero();
            assertThat(atRest.heapAlloc()).isZero();
        }
    }
}
