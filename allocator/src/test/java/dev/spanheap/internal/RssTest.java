package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Resident memory follows what the heap uses: it rises when blocks are touched and falls on release. */
class RssTest {

    static final long MIB = 1 << 20;

    /** Resident set size of this process, from /proc/self/statm (in pages of 4 KiB). */
    static long rssBytes() {
        try {
            String[] fields = Files.readString(Path.of("/proc/self/statm")).trim().split("\\s+");
            return Long.parseLong(fields[1]) * 4096;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void rssRisesWhenTouchedAndFallsWhenReleased() {
        Heap heap = new Heap(HeapConfig.defaults());
        try {
            long start = rssBytes();
            List<Long> blocks = new ArrayList<>();
            for (int i = 0; i < 256; i++) {
                long address = heap.allocate(MIB, 1);
                MemorySegment block = heap.segment(address, MIB);
                block.fill((byte) 1);
                blocks.add(address);
            }
            long touched = rssBytes();
            for (long address : blocks) {
                heap.free(address);
            }
            long freed = rssBytes();
            long released = heap.releaseMemory();
            long after = rssBytes();
            System.out.printf("RSS: start %d MiB, 256 MiB touched %d MiB, freed %d MiB, released %d MiB -> %d MiB%n",
                    start / MIB, touched / MIB, freed / MIB, released / MIB, after / MIB);
            assertThat(touched - start).isGreaterThanOrEqualTo(250 * MIB);
            assertThat(released).isGreaterThanOrEqualTo(256 * MIB);
            assertThat(touched - after).isGreaterThanOrEqualTo(200 * MIB);
            // A released page reads back as zero and is reused.
            long again = heap.allocate(MIB, 1);
            assertThat(heap.segment(again, MIB).get(java.lang.foreign.ValueLayout.JAVA_BYTE, 12345)).isZero();
            heap.free(again);
        } finally {
            heap.close();
        }
    }
}
