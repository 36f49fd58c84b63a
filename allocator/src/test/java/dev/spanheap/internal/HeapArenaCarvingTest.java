package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * How a heap arena lays out its segments ({@link HeapArena}): small requests carved one after
 * another from chunks of heap memory, each chunk starting with a header no segment uses, chunks
 * doubling up to 32 KiB, and requests past a quarter of that in blocks of their own. The black-box
 * arena tests check each segment's size, alignment, zeroes and that segments do not overlap; this
 * pins where they go, so that a carving step that wasted a chunk per request, or put a segment
 * before its chunk's start (in another block's memory), fails here at once (PIT found mutants of
 * the carving arithmetic that the black-box tests let through).
 */
class HeapArenaCarvingTest {

    private final Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));

    @AfterEach
    void close() {
        heap.verify();
        heap.close();
    }

    private Arena open(boolean shared) {
        return shared ? HeapArena.shared(heap) : HeapArena.confined(heap);
    }

    private long objects() {
        return new HeapStatistics(heap).snapshot().heapObjects();
    }

    /** The heap block a carved segment at the start of its chunk lies in: its usable size. */
    private long chunkBytesBehind(MemorySegment firstInChunk) {
        return heap.usableSize(firstInChunk.address() - HeapArena.BLOCK_HEADER_BYTES);
    }

    @ParameterizedTest(name = "shared {0}")
    @ValueSource(booleans = {false, true})
    void smallSegmentsFollowEachOtherAfterTheFirstChunksHeader(boolean shared) {
        long before = objects();
        try (Arena arena = open(shared)) {
            assertThat(objects()).as("the first chunk, taken at open").isEqualTo(before + 1);
            MemorySegment first = arena.allocate(16);
            assertThat(chunkBytesBehind(first)).isEqualTo(HeapArena.FIRST_CHUNK_BYTES);
            MemorySegment second = arena.allocate(24, 8);
            assertThat(second.address()).isEqualTo(first.address() + 16);
            MemorySegment aligned = arena.allocate(8, 64);
            assertThat(aligned.address()).isEqualTo((second.address() + 24 + 63) & -64L);
            MemorySegment next = arena.allocate(1, 1);
            assertThat(next.address()).isEqualTo(aligned.address() + 8);
            assertThat(objects()).as("all carved from the first chunk").isEqualTo(before + 1);
        }
        assertThat(objects()).isEqualTo(before);
    }

    /** A request that fills what is left of a chunk exactly is carved there; one that fills a new chunk gets one just so large. */
    @ParameterizedTest(name = "shared {0}")
    @ValueSource(booleans = {false, true})
    void exactFitsTakeNoLargerChunk(boolean shared) {
        long before = objects();
        try (Arena arena = open(shared)) {
            int rest = HeapArena.FIRST_CHUNK_BYTES - HeapArena.BLOCK_HEADER_BYTES;
            MemorySegment filling = arena.allocate(rest);
            assertThat(chunkBytesBehind(filling)).isEqualTo(HeapArena.FIRST_CHUNK_BYTES);
            assertThat(objects()).as("carved from the first chunk").isEqualTo(before + 1);
            MemorySegment whole = arena.allocate(4096 - HeapArena.BLOCK_HEADER_BYTES);
            assertThat(chunkBytesBehind(whole)).as("the next chunk, not doubled for an exact fit").isEqualTo(4096);
        }
        assertThat(objects()).isEqualTo(before);
    }

    @ParameterizedTest(name = "shared {0}")
    @ValueSource(booleans = {false, true})
    void aFullChunkIsFollowedByOneTwiceItsSizeUpTo32KiB(boolean shared) {
        long before = objects();
        List<Long> chunks = new ArrayList<>();
        try (Arena arena = open(shared)) {
            MemorySegment previous = arena.allocate(16);
            chunks.add(chunkBytesBehind(previous));
            while (chunks.size() < 7) {
                MemorySegment segment = arena.allocate(16);
                if (segment.address() != previous.address() + 16) {
                    chunks.add(chunkBytesBehind(segment));
                    MemorySegment after = arena.allocate(16);
                    assertThat(after.address()).as("carving goes on in the new chunk").isEqualTo(segment.address() + 16);
                    segment = after;
                }
                previous = segment;
            }
            assertThat(objects()).isEqualTo(before + chunks.size());
        }
        assertThat(chunks).containsExactly(2048L, 4096L, 8192L, 16384L, 32768L, 32768L, 32768L);
        assertThat(objects()).isEqualTo(before);
    }

    @ParameterizedTest(name = "shared {0}")
    @ValueSource(booleans = {false, true})
    void requestsPastAQuarterOfTheLargestChunkGetABlockOfTheirOwn(boolean shared) {
        long before = objects();
        try (Arena arena = open(shared)) {
            MemorySegment carved = arena.allocate(HeapArena.MAX_CARVED_BYTES);
            assertThat(chunkBytesBehind(carved)).as("a new chunk large enough for it and its header")
                    .isEqualTo(16384);
            MemorySegment own = arena.allocate(HeapArena.MAX_CARVED_BYTES + 1);
            long ownBlock = own.address() - HeapArena.BLOCK_HEADER_BYTES;
            assertThat(heap.usableSize(ownBlock)).isBetween(HeapArena.MAX_CARVED_BYTES + 17L, 16383L);
            MemorySegment small = arena.allocate(16);
            assertThat(small.address()).as("the chunk's cursor did not move for the block of its own")
                    .isEqualTo(carved.address() + HeapArena.MAX_CARVED_BYTES);

            // An alignment of a quarter chunk is carved: what follows it comes from the same chunk.
            MemorySegment quarterAligned = arena.allocate(16, HeapArena.MAX_CARVED_BYTES);
            assertThat(quarterAligned.address() % HeapArena.MAX_CARVED_BYTES).isZero();
            assertThat(arena.allocate(16).address()).isEqualTo(quarterAligned.address() + 16);

            assertThat(objects()).as("a chunk past the first, a block of its own, and the chunk the aligned one took")
                    .isEqualTo(before + 4);
        }
        assertThat(objects()).isEqualTo(before);
    }

    /**
     * An alignment past a quarter chunk that the current chunk cannot give: a block of its own,
     * with a header as long as the alignment, so that the segment after it keeps it; the chunk's
     * cursor stays where it was.
     */
    @ParameterizedTest(name = "shared {0}")
    @ValueSource(booleans = {false, true})
    void aLargeAlignmentThatTheChunkCannotGiveGetsABlockOfItsOwn(boolean shared) {
        long before = objects();
        try (Arena arena = open(shared)) {
            MemorySegment first = arena.allocate(16);
            MemorySegment aligned = arena.allocate(16, 16384);
            assertThat(aligned.address() % 16384).isZero();
            assertThat(heap.usableSize(aligned.address() - 16384)).as("its own block, not a chunk")
                    .isGreaterThanOrEqualTo(16384 + 16);
            assertThat(arena.allocate(16).address()).isEqualTo(first.address() + 16);
            assertThat(objects()).isEqualTo(before + 2);
        }
        assertThat(objects()).isEqualTo(before);
    }
}
