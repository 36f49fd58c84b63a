package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class LocalHeapTest {

    /** No heap profile: these tests pin which block comes back, and a sampled block has a span of its own. */
    private final Spanheap heap = Spanheap.builder().profileRate(0).build();

    @AfterEach
    void close() {
        heap.verify();
        heap.close();
    }

    @Test
    void allocatesAndFreesLikeTheHeap() {
        LocalHeap local = heap.localHeap();
        MemorySegment block = local.allocate(100, 8);
        block.set(ValueLayout.JAVA_LONG, 0, 7L);
        long raw = local.malloc(70_000);
        assertThat(heap.usableSize(raw)).isGreaterThanOrEqualTo(70_000);
        local.free(block);
        local.free(raw);
        assertThat(heap.memStats().heapObjects()).isZero();
        assertThat(heap.memStats().mallocs()).isEqualTo(2);
    }

    @Test
    void blocksCrossBetweenTheHandleAndTheHeap() throws Exception {
        LocalHeap local = heap.localHeap();
        long fromLocal = local.malloc(64);
        AtomicReference<Long> fromOtherThread = new AtomicReference<>();
        Thread other = Thread.ofPlatform().start(() -> {
            heap.free(fromLocal);
            fromOtherThread.set(heap.malloc(64));
        });
        TestThreads.join(other);
        local.free(fromOtherThread.get());
        assertThat(heap.memStats().heapObjects()).isZero();
    }

    @Test
    void belongsToTheThreadThatMadeIt() throws Exception {
        LocalHeap local = heap.localHeap();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread other = Thread.ofPlatform().start(() -> {
            try {
                local.malloc(16);
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        TestThreads.join(other);
        assertThat(failure.get()).isInstanceOf(WrongThreadException.class).hasMessageContaining("belongs to");
    }

    @Test
    void keepsTheHeapsChecks() {
        LocalHeap local = heap.localHeap();
        long block = local.malloc(32);
        local.free(block);
        assertThatThrownBy(() -> local.free(block)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free");
        assertThatThrownBy(() -> local.malloc(-5)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> local.free(MemorySegment.NULL)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void largeBlocksComeBackFromTheThreadsKeptSpans() {
        LocalHeap local = heap.localHeap();
        long first = local.malloc(64 << 10);
        local.free(first);
        long again = local.malloc(60 << 10);
        assertThat(again).isEqualTo(first);
        MemorySegment.ofAddress(again).reinterpret(60 << 10).fill((byte) 1);
        local.free(again);
        assertThatThrownBy(() -> local.free(again)).isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free");
        // Requests the kept spans cannot serve still get the heap's checks and alignments.
        assertThatThrownBy(() -> local.allocate(64 << 10, 3)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("alignment must be a power of two: 3");
        MemorySegment aligned = local.allocate(64 << 10, 1 << 16);
        assertThat(aligned.address() % (1 << 16)).isZero();
        local.free(aligned);
        assertThat(heap.memStats().heapObjects()).isZero();
        assertThat(heap.memStats().mallocs()).isEqualTo(3);
    }

    @Test
    void virtualThreadsCannotHaveOne() throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        TestThreads.join(Thread.ofVirtual().start(() -> {
            try {
                heap.localHeap();
            } catch (Throwable e) {
                failure.set(e);
            }
        }));
        assertThat(failure.get()).isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("virtual threads");
    }
}
