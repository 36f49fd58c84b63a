package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every kind of bad input gets its own exception and message, and afterwards the heap still holds
 * what it held and still works.
 */
class SpanheapErrorsTest {

    private Spanheap heap;
    private MemorySegment small;
    private MemorySegment large;

    @BeforeEach
    void setUp() {
        // No heap profile: some tests pin which block comes back, and a sampled block has a span of its own.
        heap = Spanheap.builder().maxHeapSize(256L << 20).profileRate(0).build();
        small = heap.allocate(100);
        large = heap.allocate(100_000);
        small.fill((byte) 7);
        large.fill((byte) 9);
    }

    @AfterEach
    void heapIsUnharmed() {
        if (!heapWasClosed) {
            heap.verify();
            assertThat(small.get(ValueLayout.JAVA_BYTE, 99)).isEqualTo((byte) 7);
            assertThat(large.get(ValueLayout.JAVA_BYTE, 99_999)).isEqualTo((byte) 9);
            MemorySegment more = heap.allocate(5000);
            heap.free(more);
            heap.free(small);
            heap.free(large);
            assertThat(heap.memStats().heapObjects()).isZero();
        }
        heap.close();
    }

    private boolean heapWasClosed;

    @Test
    void negativeSize() {
        assertThatThrownBy(() -> heap.allocate(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("negative size: -1");
        assertThatThrownBy(() -> heap.malloc(Long.MIN_VALUE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("negative size");
    }

    @Test
    void sizeAboveTheLimit() {
        assertThatThrownBy(() -> heap.allocate(1L << 40))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("size 1099511627776 exceeds the heap's limit of 268435456 bytes");
    }

    @Test
    void alignmentNotAPowerOfTwo() {
        assertThatThrownBy(() -> heap.allocate(64, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("alignment must be a power of two: 3");
        assertThatThrownBy(() -> heap.allocate(64, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> heap.allocate(1 << 20, 48))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /** Found by ApiFuzzTest: the page heap lost a free run to such a request and threw out of bounds. */
    @ParameterizedTest
    @ValueSource(longs = {1L << 29, 1L << 40, 1L << 50, 1L << 62})
    void alignmentBeyondTheHeapsLimit(long alignment) {
        assertThatThrownBy(() -> heap.allocate(16, alignment))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("alignment " + alignment + " exceeds the heap's limit of 268435456 bytes");
        assertThatThrownBy(() -> heap.allocate(100_000, alignment))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /**
     * Negative alignments whose low six bits name an alignment the size classes give (-56 is 8 in
     * a shift count), on a cache hit (the fast path) as on a miss: issue 14's alignment hole.
     */
    @ParameterizedTest
    @ValueSource(longs = {-56, -63, -64 + 1, -64 + 2, -64 + 4, -64 + 8, -8, -1, Long.MIN_VALUE, Long.MIN_VALUE + 8})
    void negativeAlignmentsAreRejectedOnEveryPath(long alignment) {
        // Warm the calling thread's cache for the class, so that the request would hit it.
        heap.free(heap.allocate(16, 8));
        assertThatThrownBy(() -> heap.allocate(16, alignment))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("alignment must be a power of two: " + alignment);
        LocalHeap local = heap.localHeap();
        local.free(local.allocate(16, 8));
        assertThatThrownBy(() -> local.allocate(16, alignment))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("alignment must be a power of two: " + alignment);
    }

    @Test
    void freeOfAForeignAddress() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment foreign = arena.allocate(64);
            assertThatThrownBy(() -> heap.free(foreign))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("was not allocated by this heap");
        }
        assertThatThrownBy(() -> heap.free(0x1000L))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("was not allocated by this heap");
    }

    /** A block of another heap, freed or resized here by any route, is foreign: both heaps keep it. */
    @Test
    void blocksOfAnotherHeapAreForeign() {
        try (Spanheap other = Spanheap.builder().maxHeapSize(64L << 20).profileRate(0).build()) {
            MemorySegment theirs = other.allocate(100);
            long theirAddress = other.malloc(40_000);
            LocalHeap local = heap.localHeap();
            for (Runnable wrongHeap : new Runnable[] {
                    () -> heap.free(theirs), () -> heap.free(theirAddress), () -> local.free(theirs),
                    () -> local.free(theirAddress), () -> heap.reallocate(theirAddress, 10),
                    () -> heap.reallocate(theirs, 200), () -> heap.usableSize(theirAddress)}) {
                assertThatThrownBy(wrongHeap::run).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("was not allocated by this heap");
            }
            other.verify();
            assertThat(other.memStats().heapObjects()).isEqualTo(2);
            other.free(theirs);
            other.free(theirAddress);
            assertThat(other.memStats().heapObjects()).isZero();
        }
    }

    /**
     * A heap-backed arena's segments go back when the arena closes, never through the heap: not even
     * its first one or a large one, which started where a heap block (the arena's chunk, or a block
     * of its own) did. Freed through the heap, that block went to its next owner while the arena
     * still used it. No segment of an arena starts at a block now, so every route meets an interior
     * address; a checked heap also refuses the segment for its scope.
     */
    @ParameterizedTest(name = "checked {0}")
    @ValueSource(booleans = {false, true})
    void segmentsOfAnArenaCannotBeFreedThroughTheHeap(boolean checked) {
        Spanheap owner = checked ? Spanheap.builder().checked(true).profileRate(0).build() : heap;
        long objectsBefore = owner.memStats().heapObjects();
        Arena arena = owner.newConfinedArena();
        MemorySegment first = arena.allocate(64);
        MemorySegment large = arena.allocate(3 << 20);
        MemorySegment aligned = arena.allocate(100_000, 4096);
        first.set(ValueLayout.JAVA_LONG, 0, 11);
        LocalHeap local = owner.localHeap();
        for (MemorySegment segment : new MemorySegment[] {first, large, aligned}) {
            for (Runnable throughTheHeap : new Runnable[] {
                    () -> owner.free(segment), () -> owner.free(segment.address()), () -> local.free(segment),
                    () -> owner.reallocate(segment, 128), () -> owner.reallocate(segment.address(), 128)}) {
                assertThatThrownBy(throughTheHeap::run).isInstanceOf(IllegalArgumentException.class)
                        .hasMessageMatching(".*(points inside a|did not come from this heap's allocate).*");
            }
        }
        assertThat(aligned.address() % 4096).isZero();
        // A raw address wrapped in a segment is taken as free(long) would take it.
        owner.free(MemorySegment.ofAddress(owner.malloc(24)));
        assertThat(first.get(ValueLayout.JAVA_LONG, 0)).isEqualTo(11);
        arena.close();
        owner.verify();
        assertThat(owner.memStats().heapObjects()).isEqualTo(objectsBefore);
        if (checked) {
            owner.close();
        }
    }

    @Test
    void freeOfAnInteriorAddress() {
        assertThatThrownBy(() -> heap.free(small.address() + 16))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("points inside a 112-byte block");
        assertThatThrownBy(() -> heap.free(large.address() + 8192))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("points inside a 106496-byte block");
        assertThatThrownBy(() -> heap.free(small.address() + 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not the start of a block");
    }

    /**
     * A virtual thread's frees take a path of their own to its carrier's stripe (Heap's
     * freeUnslotted) when it has no cache of its own, and the platform fast path when it has one;
     * each must refuse a second free of a block with a cookie (under 128 B) or a flag, and an
     * address inside a block; and the heap's counts stay right.
     */
    @ParameterizedTest
    @CsvSource({"48, 0", "256, 0", "4096, 0", "48, 16", "256, 16", "4096, 16"})
    void badFreesOnAVirtualThread(long size, int virtualThreadCaches) throws Exception {
        try (Spanheap heap = Spanheap.builder().maxHeapSize(256L << 20).profileRate(0)
                .virtualThreadCaches(virtualThreadCaches).build()) {
            badFreesOnAVirtualThread(heap, size);
        }
    }

    private static void badFreesOnAVirtualThread(Spanheap heap, long size) throws Exception {
        long objectsBefore = heap.memStats().heapObjects();
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread virtual = Thread.ofVirtual().start(() -> {
            try {
                MemorySegment block = heap.allocate(size);
                heap.free(block);
                assertThatThrownBy(() -> heap.free(block))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageStartingWith("double free of 0x" + Long.toHexString(block.address()));
                MemorySegment again = heap.allocate(size);
                assertThatThrownBy(() -> heap.free(again.address() + 16))
                        .isInstanceOf(IllegalArgumentException.class)
                        .hasMessageContaining("points inside a " + size + "-byte block");
                assertThat(heap.memStats().heapObjects()).isEqualTo(objectsBefore + 1);
                heap.free(again);
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        TestThreads.join(virtual);
        assertThat(failure.get()).isNull();
        assertThat(heap.memStats().heapObjects()).isEqualTo(objectsBefore);
    }

    @Test
    void freeOfNull() {
        assertThatThrownBy(() -> heap.free(MemorySegment.NULL))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("free of MemorySegment.NULL");
        assertThatThrownBy(() -> heap.free(0L))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("free of the NULL address");
    }

    @Test
    void queriesOfNullNameTheirOperation() {
        assertThatThrownBy(() -> heap.usableSize(0L))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("usableSize of the NULL address");
        assertThatThrownBy(() -> heap.reallocate(0L, 10))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("reallocate of the NULL address");
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void addressesInFreePagesAreRefusedByEveryOperation(boolean onceHandedOut) {
        long inFreePages;
        if (onceHandedOut) {
            long block = heap.malloc(5L << 20);
            heap.free(block);
            heap.flushThreadCache();
            inFreePages = block + (64 << 10);
        } else {
            inFreePages = large.address() + (1 << 20);
        }
        String refusal = String.format("0x%x is not a block of this heap: it lies in free pages", inFreePages);
        assertThatThrownBy(() -> heap.free(inFreePages)).isInstanceOf(IllegalArgumentException.class).hasMessage(refusal);
        assertThatThrownBy(() -> heap.usableSize(inFreePages)).isInstanceOf(IllegalArgumentException.class).hasMessage(refusal);
        assertThatThrownBy(() -> heap.reallocate(inFreePages, 1)).isInstanceOf(IllegalArgumentException.class).hasMessage(refusal);
    }

    @Test
    void segmentsOverJavaArraysAreRefused() {
        String refusal = "of a heap segment (over a Java array or buffer): only native memory from this heap can be freed";
        MemorySegment array = MemorySegment.ofArray(new byte[64]);
        assertThatThrownBy(() -> heap.free(array)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("free " + refusal);
        assertThatThrownBy(() -> heap.reallocate(array, 128)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("reallocate " + refusal);
        assertThatThrownBy(() -> heap.localHeap().free(array)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("free " + refusal);
        // Past the array's start, the segment's address is its offset: refused as foreign.
        assertThatThrownBy(() -> heap.free(array.asSlice(16))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("0x10 was not allocated by this heap");
    }

    /**
     * Up to 1 MiB the freed span stays in the thread's cache; above, it goes back to the page heap,
     * which remembers that its first page held a freed block, also once the run has merged with a
     * free neighbour: the second free is a double free there too, not an address in free pages.
     * The second frees pass raw addresses, so that checked mode (where a freed segment's closed
     * scope refuses it first) meets the same checks.
     */
    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(longs = {1 << 20, 4 << 20})
    void doubleFreeOfALargeBlock(long size) {
        MemorySegment block = heap.allocate(size);
        MemorySegment neighbour = heap.allocate(size);
        heap.free(block);
        heap.free(neighbour);
        for (MemorySegment freed : new MemorySegment[] {block, neighbour}) {
            assertThatThrownBy(() -> heap.free(freed.address()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("double free of 0x%x: the block is already free", freed.address());
            assertThatThrownBy(() -> heap.usableSize(freed.address()))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessage("0x%x is not allocated: it was freed", freed.address());
        }
    }

    /** Frees {@code block} on a new platform thread; what that free threw, or null. */
    private Throwable freeOnANewThread(MemorySegment block) throws InterruptedException {
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        Thread other = Thread.ofPlatform().start(() -> {
            try {
                heap.free(block);
            } catch (Throwable e) {
                failure.set(e);
            }
        });
        TestThreads.join(other);
        return failure.get();
    }

    @Test
    void doubleFreeOfALargeBlockOnAnotherThread() throws Exception {
        MemorySegment block = heap.allocate(200_000);
        // The first free keeps the span in this thread's cache; the second must still be caught.
        heap.free(block);
        assertThat(freeOnANewThread(block)).isInstanceOf(IllegalStateException.class).hasMessageStartingWith("double free");
        MemorySegment again = heap.allocate(200_000);
        assertThat(again.address()).isEqualTo(block.address());
        heap.free(again);
    }

    /**
     * A thread's first free, before it ever allocated, finds no cache of its own: it makes one,
     * whose classes start with no room, so the block takes the overflow's path. It must be marked
     * free there too, or its second free, here on the thread that allocated it, would push it
     * again and hand it out twice.
     */
    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(longs = {48, 256, 8192})
    void doubleFreeAfterAFirstFreeByAThreadThatNeverAllocated(long size) throws Exception {
        MemorySegment block = heap.allocate(size);
        assertThat(freeOnANewThread(block)).isNull();
        assertThatThrownBy(() -> heap.free(block))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free of 0x" + Long.toHexString(block.address()));
    }

    @Test
    void doubleFreeOfASmallBlock() {
        MemorySegment block = heap.allocate(48);
        heap.free(block);
        assertThatThrownBy(() -> heap.free(block))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free of 0x");
    }

    /**
     * Every block is checked, not a sample: the frees that found their class's stack full took
     * the slow path (a drain, then the push), and those blocks must be marked free as surely as
     * the ones the fast path pushed or the drain sent on to their spans.
     */
    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(longs = {48, 256})
    void doubleFreeAfterTheBlockWentBackToTheCentralList(long size) {
        MemorySegment[] blocks = new MemorySegment[2000];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = heap.allocate(size);
        }
        for (MemorySegment block : blocks) {
            heap.free(block);
        }
        // Most of these sit in spans now, not in the cache; the cookie or flag still catches them.
        for (MemorySegment block : blocks) {
            assertThatThrownBy(() -> heap.free(block)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("double free of 0x" + Long.toHexString(block.address()));
        }
    }

    /**
     * A block of 128 B or more is marked free by a flag beside the heap, not in its memory, so a
     * write into it after its free (a use after free) no longer hides a second free, as it does
     * for smaller blocks (see BuilderTest); its memory is neither read nor written by a free.
     */
    @ParameterizedTest(name = "{0} bytes")
    @ValueSource(longs = {128, 200, 4096, 8000, 8192, 9000, 65536, 300_000, 1 << 20})
    void doubleFreeOfABlockOf128BytesOrMoreIsCaughtAfterAWriteIntoIt(long size) {
        long block = heap.malloc(size);
        MemorySegment memory = MemorySegment.ofAddress(block).reinterpret(64);
        memory.fill((byte) 0x5a);
        heap.free(block);
        assertThat(memory.get(ValueLayout.JAVA_LONG, 0)).as("the free left the block's memory alone")
                .isEqualTo(0x5a5a5a5a5a5a5a5aL);
        memory.fill((byte) 0x33);
        assertThatThrownBy(() -> heap.free(block))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("double free of 0x" + Long.toHexString(block));
        assertThatThrownBy(() -> heap.usableSize(block)).isInstanceOf(IllegalStateException.class);
        long again = heap.malloc(size);
        assertThat(again).as("the block is handed out once more, and only once").isEqualTo(block);
        assertThat(heap.usableSize(again)).isGreaterThanOrEqualTo(size);
        long other = heap.malloc(size);
        assertThat(other).isNotEqualTo(again);
        heap.free(other);
        heap.free(again);
    }

    @Test
    void doubleFreeOfBlocksOfAPageOrMoreAfterTheyWentBackToTheCentralList() {
        long[] blocks = new long[600];
        for (int i = 0; i < blocks.length; i++) {
            blocks[i] = heap.malloc(40_000 + 997L * (i % 30));
        }
        for (long block : blocks) {
            heap.free(block);
        }
        // 29 MiB in all, more than a thread's cache holds: most sit in their spans or transfer stacks.
        for (int i = 0; i < blocks.length; i += 7) {
            long block = blocks[i];
            assertThatThrownBy(() -> heap.free(block)).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("double free");
        }
    }

    @Test
    void usableSizeOfAFreedBlock() {
        MemorySegment block = heap.allocate(48);
        assertThat(heap.usableSize(block.address())).isEqualTo(48);
        heap.free(block);
        assertThatThrownBy(() -> heap.usableSize(block.address())).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void outOfMemoryGivesTheFigures() {
        MemorySegment big = heap.allocate(200L << 20);
        assertThatThrownBy(() -> heap.allocate(100L << 20))
                .isInstanceOf(OutOfMemoryError.class)
                .hasMessageContaining("cannot allocate 104857600 bytes")
                .hasMessageContaining("limit is 268435456 bytes")
                .hasMessageMatching(".*\\d+ bytes are in use.*");
        // The alignment is named only where it may be the reason: every block is 16-byte aligned.
        assertThatThrownBy(() -> heap.allocate(100L << 20, 16)).isInstanceOf(OutOfMemoryError.class)
                .hasMessageStartingWith("Spanheap cannot allocate 104857600 bytes: ");
        assertThatThrownBy(() -> heap.allocate(100L << 20, 32)).isInstanceOf(OutOfMemoryError.class)
                .hasMessageStartingWith("Spanheap cannot allocate 104857600 bytes aligned to 32: ");
        heap.free(big);
    }

    @Test
    void everyCallAfterCloseThrows() {
        heapWasClosed = true;
        heap.close();
        assertThatThrownBy(() -> heap.allocate(16)).isInstanceOf(IllegalStateException.class)
                .hasMessage("Spanheap is closed");
        assertThatThrownBy(() -> heap.allocate(1 << 20)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> heap.free(small)).isInstanceOf(IllegalStateException.class)
                .hasMessage("Spanheap is closed");
        assertThatThrownBy(() -> heap.malloc(8)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> heap.usableSize(small.address())).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> heap.memStats()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> heap.releaseMemory()).isInstanceOf(IllegalStateException.class);
        // Segments handed out are bound to the heap: using one after close throws, never crashes.
        assertThatThrownBy(() -> small.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> large.set(ValueLayout.JAVA_BYTE, 0, (byte) 1))
                .isInstanceOf(IllegalStateException.class);
        heap.close();
    }
}
