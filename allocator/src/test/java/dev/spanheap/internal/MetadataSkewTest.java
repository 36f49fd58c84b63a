package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A free's page-map entry and free flag never sit at the same offset within a 4 KiB page as the
 * first word of a block that starts 16 KiB-aligned (see {@link AddressSpace#PAGE_MAP_SKEW} and
 * {@link FreeMarks#TABLE_SKEW}): the caller's store into the block just before the free would
 * otherwise make the free's loads wait for it.
 */
class MetadataSkewTest {

    private static final long PAGE = 4096;
    /** The bytes of a block's first word, which a caller writes. */
    private static final long WORD = 8;

    private final Heap heap = new Heap(HeapConfig.defaults().withProfileRate(0));

    @AfterEach
    void close() {
        heap.close();
    }

    private long entryAddressOf(long block) {
        return heap.pageMapAddress() + ((block - heap.base()) >>> Pages.SHIFT) * 8;
    }

    /** Whether {@code bytes} at {@code a} and the block's first word overlap modulo 4 KiB. */
    private static boolean aliasesFirstWord(long a, long bytes, long block) {
        long distance = Math.floorMod(a - block, PAGE);
        return distance < WORD || distance > PAGE - bytes;
    }

    @Test
    void noBlockStartingAtA16KiBBoundaryAliasesItsEntryOrFlag() {
        // Every 16 KiB boundary of 8 MiB of heap: two of the page map's 4 MiB periods and 16 of
        // the flag table's 512 KiB ones.
        for (long offset = 0; offset < (8L << 20); offset += 16 << 10) {
            long block = heap.base() + offset;
            assertThat(aliasesFirstWord(entryAddressOf(block), 8, block)).as("page-map entry at offset %d", offset)
                    .isFalse();
            assertThat(aliasesFirstWord(heap.freeMarks().flagAddress(block), 1, block))
                    .as("flag at offset %d", offset).isFalse();
        }
    }

    @Test
    void blocksOfAPageOrMoreAsAllocatedDoNotAliasTheirMetadata() {
        for (long size : new long[] {16 << 10, 64 << 10, 256 << 10, 1 << 20}) {
            long block = heap.allocate(size, 1);
            assertThat(aliasesFirstWord(entryAddressOf(block), 8, block)).as("%d-byte block's entry", size).isFalse();
            assertThat(aliasesFirstWord(heap.freeMarks().flagAddress(block), 1, block))
                    .as("%d-byte block's flag", size).isFalse();
            heap.free(block);
        }
        heap.verify();
    }
}
