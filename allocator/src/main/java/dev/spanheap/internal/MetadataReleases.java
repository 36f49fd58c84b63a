package dev.spanheap.internal;

import java.util.ArrayList;
import java.util.List;

/**
 * Gives back, with the free pages a release gives back, the metadata those pages had made
 * resident: the page-map entries inside their free run and their free flags. Before, a heap's
 * metadata stayed as resident as it had ever been: 8 bytes of page map per 8 KiB page of
 * small-object spans (and, before large blocks mapped only their ends, of large blocks too: a
 * 3 TiB block, freed and released, left 3.2 GiB resident), and a flag byte per 128 B wherever
 * small objects of 128 B or more had lived (1/128 of the heap).
 *
 * <p>Why the released metadata may read as zero:
 * <ul>
 *   <li>only the first and last page-map entries of a free run must name it; the entries inside it
 *       may hold anything without a class, 0 included (see {@link PageMap}), as in Go's page heap;
 *   <li>a flag whose granule starts no object of a small span means nothing, and cutting a span
 *       writes its objects' flags; 0 is {@link FreeMarks#FREE}, so a stale free that read a span's
 *       entry before the span went back and its flag after the release is refused as a double free.
 * </ul>
 * A free run that a release is working on is out of the free runs ({@link SpanTable#RELEASING}):
 * nothing writes its entries or flags until the release puts it back, so the {@code madvise} of
 * its metadata runs without the page heap's lock, with that of its pages. A refused call leaves
 * the metadata as it was, which is as valid.
 *
 * <p>Only whole metadata pages inside a released stretch go: 8 KiB of page map covers 8 MiB of
 * heap, 8 KiB of flags 1 MiB, so small releases give back none. A stretch extends across pages of
 * the same run released earlier, so that the scavenger's releases of up to 16 MiB at a time give
 * back the metadata between them too.
 */
final class MetadataReleases {

    private final AddressSpace space;
    /** Address of the page map's entry for page 0. */
    private final long pageMapAddress;
    /** Address of the flag of the heap's first granule, or 0 while no flag table is attached. */
    private long flagTableAddress;

    MetadataReleases(AddressSpace space, long pageMapAddress) {
        this.space = space;
        this.pageMapAddress = pageMapAddress;
    }

    /** The flag table ({@link FreeMarks}), by the address of its flag for the heap's first granule. */
    void attachFlagTable(long flagOfFirstGranule) {
        this.flagTableAddress = flagOfFirstGranule;
    }

    /**
     * The metadata ranges, {address, bytes} each, to give back once pages {@code [from, to)} of free
     * run {@code [runStart, runEnd)} are released: the whole metadata pages among the run's entries
     * inside it and among the pages' flags. Allocates, so the page heap calls it before it changes
     * anything.
     */
    List<long[]> plan(int runStart, int runEnd, int from, int to) {
        List<long[]> ranges = new ArrayList<>(2);
        addWholePages(ranges, pageMapAddress + ((long) Math.max(from, runStart + 1) << 3),
                pageMapAddress + ((long) Math.min(to, runEnd - 1) << 3));
        if (flagTableAddress != 0) {
            int flagsPerPageShift = Pages.SHIFT - FreeMarks.FLAG_SHIFT;
            addWholePages(ranges, flagTableAddress + ((long) from << flagsPerPageShift),
                    flagTableAddress + ((long) to << flagsPerPageShift));
        }
        return ranges;
    }

    /** Adds the whole pages of {@code [start, end)}; the heap's page size, a multiple of the OS's. */
    private static void addWholePages(List<long[]> ranges, long start, long end) {
        long first = AddressSpace.roundUp(start, Pages.SIZE);
        long last = end & -Pages.SIZE;
        if (last > first) {
            ranges.add(new long[] {first, last - first});
        }
    }

    /**
     * Gives back {@code ranges} from {@link #plan}, without the page heap's lock. A refusal leaves
     * the rest as it is; an {@link Error} (a downcall's setup out of memory) is thrown.
     */
    void release(List<long[]> ranges) {
        for (long[] range : ranges) {
            try {
                space.decommitMetadata(range[0], range[1]);
            } catch (RuntimeException refused) {
                return;
            }
        }
    }
}
