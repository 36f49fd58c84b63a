package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.ref.WeakReference;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * A closed heap's Java objects become garbage while the threads that used it live on: nothing
 * registered on a thread (its cache's cleaner) keeps the heap's caches, central lists or page heap
 * reachable. Found by ApiFuzzTest, which makes a heap per input on one thread and ran out of Java heap.
 */
@Tag("os-dependent") // needs System.gc() to collect
class ClosedHeapReclaimTest {

    @Test
    void aClosedHeapIsCollectedWhileItsThreadLives() {
        WeakReference<ThreadCaches> caches = useAndClose();
        for (int i = 0; i < 50 && caches.get() != null; i++) {
            System.gc();
        }
        assertThat(caches.get()).as("the closed heap's thread-cache registry was collected").isNull();
    }

    /** Makes a heap, gives this thread a cache in it, closes it; returns a weak view of its registry. */
    private static WeakReference<ThreadCaches> useAndClose() {
        Heap heap = new Heap(HeapConfig.defaults());
        heap.free(heap.allocate(64, 1));
        WeakReference<ThreadCaches> caches = new WeakReference<>(heap.caches());
        heap.close();
        return caches;
    }
}
