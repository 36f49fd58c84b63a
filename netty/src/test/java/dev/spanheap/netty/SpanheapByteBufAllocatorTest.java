package dev.spanheap.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.IllegalReferenceCountException;
import io.netty.util.ResourceLeakDetector;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class SpanheapByteBufAllocatorTest {

    private final Spanheap heap = Spanheap.builder().scavenger(false).build();
    private final SpanheapByteBufAllocator allocator = new SpanheapByteBufAllocator(heap);

    @AfterEach
    void close() {
        heap.close();
    }

    @Test
    void theAllocatorNamesItsHeapAndSaysWhatItPrefers() {
        assertThat(allocator.heap()).isSameAs(heap);
        assertThat(allocator).hasToString("SpanheapByteBufAllocator(preferDirect: true, " + allocator.metric() + ")");
        assertThat(new SpanheapByteBufAllocator(heap, false).toString()).startsWith("SpanheapByteBufAllocator(preferDirect: false, ");
    }

    @Test
    void directBuffersAreHeapBlocksFreedByTheLastRelease() {
        ByteBuf buf = allocator.directBuffer(1000);
        assertThat(buf.isDirect()).isTrue();
        assertThat(buf.hasMemoryAddress()).isTrue();
        assertThat(heap.usableSize(buf.memoryAddress())).isGreaterThanOrEqualTo(1000);
        assertThat(heap.memStats().heapObjects()).isEqualTo(1);
        buf.retain();
        buf.release();
        assertThat(heap.memStats().heapObjects()).as("still referenced").isEqualTo(1);
        buf.release();
        assertThat(heap.memStats().heapObjects()).isZero();
    }

    @Test
    void growingMovesTheContentsWithinTheHeap() {
        ByteBuf buf = allocator.directBuffer(64);
        buf.writeLong(0x1122334455667788L);
        long before = buf.memoryAddress();
        buf.capacity(200_000);
        assertThat(buf.memoryAddress()).isNotEqualTo(before);
        assertThat(heap.usableSize(buf.memoryAddress())).isGreaterThanOrEqualTo(200_000);
        assertThatThrownBy(() -> heap.free(before)).as("the old block went back to the heap")
                .isInstanceOf(IllegalStateException.class);
        assertThat(buf.getLong(0)).isEqualTo(0x1122334455667788L);
        assertThat(heap.memStats().heapObjects()).isEqualTo(1);
        buf.release();
        assertThat(heap.memStats().heapObjects()).isZero();
    }

    @Test
    void aBufferReleasedOnAnotherThreadFreesItsBlock() throws Exception {
        ByteBuf buf = allocator.directBuffer(4096).writeInt(7);
        CompletableFuture.runAsync(buf::release).get(1, TimeUnit.MINUTES);
        assertThat(heap.memStats().heapObjects()).isZero();
        heap.verify();
    }

    @Test
    void metricReportsTheCapacityOfLiveBuffers() {
        List<ByteBuf> buffers = new ArrayList<>();
        buffers.add(allocator.directBuffer(100));
        buffers.add(allocator.directBuffer(5000));
        buffers.add(allocator.heapBuffer(300));
        assertThat(allocator.metric().usedDirectMemory()).isEqualTo(5100);
        assertThat(allocator.metric().usedHeapMemory()).isEqualTo(300);
        buffers.get(0).capacity(2000);
        assertThat(allocator.metric().usedDirectMemory()).isEqualTo(7000);
        buffers.forEach(ByteBuf::release);
        assertThat(allocator.metric().usedDirectMemory()).isZero();
        assertThat(allocator.metric().usedHeapMemory()).isZero();
        assertThat(allocator.isDirectBufferPooled()).isTrue();
        assertThat(allocator.metric().toString()).contains("usedDirectMemory: 0");
    }

    @Test
    void preferDirectChoosesWhatBufferReturns() {
        ByteBuf direct = new SpanheapByteBufAllocator(heap).buffer();
        ByteBuf onHeap = new SpanheapByteBufAllocator(heap, false).buffer();
        assertThat(direct.isDirect()).isTrue();
        assertThat(onHeap.isDirect()).isFalse();
        direct.release();
        onHeap.release();
    }

    @Test
    void leakDetectionWrapsBuffersAsForNettysAllocators() {
        ResourceLeakDetector.Level level = ResourceLeakDetector.getLevel();
        try {
            for (ResourceLeakDetector.Level each : List.of(ResourceLeakDetector.Level.DISABLED, ResourceLeakDetector.Level.PARANOID)) {
                ResourceLeakDetector.setLevel(each);
                ByteBuf ours = allocator.directBuffer(16);
                ByteBuf netty = new UnpooledByteBufAllocator(true).directBuffer(16);
                assertThat(wrapper(ours)).as("at %s", each).isEqualTo(wrapper(netty))
                        .isEqualTo(each == ResourceLeakDetector.Level.PARANOID ? "AdvancedLeakAwareByteBuf" : "none");
                ours.release();
                netty.release();
            }
        } finally {
            ResourceLeakDetector.setLevel(level);
        }
    }

    private static String wrapper(ByteBuf buf) {
        String name = buf.getClass().getSimpleName();
        return name.contains("LeakAware") ? name : "none";
    }

    @Test
    void aClosedHeapRefusesNewBuffers() {
        heap.close();
        assertThatThrownBy(() -> allocator.directBuffer(16)).isInstanceOf(IllegalStateException.class)
                .hasMessage("Spanheap is closed");
    }

    /** A buffer that outlives its heap (released after shutdown) releases quietly, and stops being counted. */
    @Test
    void buffersReleasedAfterTheHeapClosedReleaseQuietly() {
        ByteBuf small = allocator.directBuffer(100);
        ByteBuf large = allocator.directBuffer(1 << 20);
        heap.close();
        assertThat(small.release()).isTrue();
        assertThat(large.release()).isTrue();
        assertThat(small.refCnt()).isZero();
        assertThat(allocator.metric().usedDirectMemory()).isZero();
        assertThatThrownBy(small::release).isInstanceOf(IllegalReferenceCountException.class);
    }

    /**
     * 100 000 virtual threads each allocate, write and release buffers: the heap's cache memory
     * stays bounded (at most 16 virtual threads hold caches of their own, the rest share striped
     * caches) and the memory in use returns to its baseline.
     */
    @Test
    void hundredThousandVirtualThreads() throws Exception {
        long baseline = heap.memStats().heapAlloc();
        AtomicLong checksum = new AtomicLong();
        long maxCached = 0;
        try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> batch = new ArrayList<>();
            for (int i = 0; i < 100_000; i++) {
                int n = i;
                batch.add(threads.submit(() -> {
                    ByteBuf buf = allocator.directBuffer(64 + (n % 16) * 512);
                    buf.writeInt(n).writeZero(60);
                    ByteBuf io = allocator.ioBuffer(1024);
                    io.writeBytes(buf, 0, 4);
                    checksum.addAndGet(io.readInt() - buf.getInt(0));
                    io.release();
                    buf.release();
                }));
                if (batch.size() == 5_000) {
                    for (Future<?> f : batch) {
                        f.get(1, TimeUnit.MINUTES);
                    }
                    batch.clear();
                    maxCached = Math.max(maxCached, heap.memStats().cachedBytes());
                }
            }
            for (Future<?> f : batch) {
                f.get(1, TimeUnit.MINUTES);
            }
        }
        MemStats stats = heap.memStats();
        assertThat(checksum.get()).isZero();
        assertThat(stats.heapAlloc()).as("in use back to its baseline").isEqualTo(baseline);
        assertThat(allocator.metric().usedDirectMemory()).isZero();
        assertThat(maxCached).as("cache memory bounded by the heap's total cache budget").isLessThanOrEqualTo(32L << 20);
        assertThat(stats.heapSys()).as("the heap stayed small").isLessThan(64L << 20);
        heap.verify();
    }

    @Test
    void worksAsAnAllocatorForCodeWrittenAgainstTheInterface() {
        ByteBufAllocator generic = allocator;
        ByteBuf buf = generic.directBuffer(8, 16);
        assertThat(buf.maxCapacity()).isEqualTo(16);
        assertThat(buf.alloc()).isSameAs(allocator);
        buf.release();
    }
}
