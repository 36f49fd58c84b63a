package dev.spanheap.internal;

import dev.spanheap.OsMemoryException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The heap's reservation of virtual address space and the frontier up to which it is committed
 * (mheap's arenas, in Go's terms). Pages below the frontier are readable and writable; pages above
 * it are {@code PROT_NONE}, so a stray access past the heap faults instead of reading garbage.
 *
 * <p>Segments handed to users are bound to one shared {@link Arena}: closing the heap closes the
 * arena first, so a later access through one throws {@link IllegalStateException}. The allocator's
 * own fast-path accesses go through {@link RawMemory}; for them, {@link #close()} swaps every
 * mapping for fresh zero pages and leaves the unmapping to the cleanup of an automatic arena,
 * {@link #keepAlive}, which runs once nothing refers to its scope: neither this object nor any
 * segment or buffer made from {@link #unscopedHeap()}. Such views (the Netty adapter's buffers)
 * pay no scope check and no atomic per I/O, and still cannot outlive the mapping.
 */
final class AddressSpace {

    /** The smallest reservation worth retrying with after the OS refuses a larger one. */
    static final long MIN_RESERVATION = 64L << 20;

    /**
     * The heap's base is aligned to 4 MiB (mmap only promises 4 KiB): pages are then 8 KiB-aligned
     * in absolute terms, and runs can line up with the kernel's 2 MiB transparent huge pages.
     */
    static final long BASE_ALIGNMENT = 4L << 20;
    /**
     * Where the page map starts in its mapping, in bytes. A block's page-map entry is at
     * {@code map + 8 * page}; from a page-aligned map, the entry of the first page of every 4 MiB of
     * the heap would sit at the start of a 4 KiB page, as that block's first byte does (blocks of a
     * page or more start page-aligned). The free's load of the entry then shares its address's low
     * 12 bits with the caller's store into the block just before it, and the CPU makes the load wait
     * for that store (a "4K alias"); every heap's first block was one of them. From
     * {@code 2048 + 8}, the entries at the start of a 4 KiB page are those of page 255 of every 512,
     * where no block of 16 KiB or more starts.
     */
    static final long PAGE_MAP_SKEW = 2048 + 8;

    private final OsMemory os;
    private final Arena arena;
    private final long base;
    private final long reservedBytes;
    private final long metadataBase;
    private final long metadataBytes;
    private final MemorySegment heap;
    private final MemorySegment pageMap;
    private final MemorySegment spanRecords;
    private long committedBytes;
    /** Every mapping (address, bytes) of this heap, unmapped once the heap is unreachable. */
    private final List<long[]> mappings = new ArrayList<>();
    /** Reachable while this object or any view of {@link #unscopedHeap} is; its cleanup unmaps after close. */
    private final Arena keepAlive = Arena.ofAuto();
    private final MemorySegment unscopedHeap;
    /** Whether each commit asks for transparent huge pages ({@link OsMemory#adviseHugePages}). */
    private final boolean hugePages;

    AddressSpace(OsMemory os, long requestedBytes, boolean hugePages) {
        this.os = os;
        this.hugePages = hugePages;
        long size = roundUp(requestedBytes, Pages.SIZE);
        long reserved = 0;
        OsMemoryException refusal = null;
        while (reserved == 0) {
            try {
                reserved = reserveAligned(os, size);
            } catch (OsMemoryException e) {
                if (refusal == null) {
                    refusal = e;
                } else {
                    refusal.addSuppressed(e);
                }
                if (size / 2 < Math.min(MIN_RESERVATION, requestedBytes)) {
                    throw refusal;
                }
                size = roundUp(size / 2, Pages.SIZE);
            }
        }
        this.base = reserved;
        this.reservedBytes = size;
        // Metadata sits in one mapping beside the heap: the page map (PAGE_MAP_SKEW bytes in), then
        // the span records. It is mapped read-write but untouched pages cost nothing, so it is sized
        // for the worst case.
        int pages = Math.toIntExact(size / Pages.SIZE);
        long pageMapBytes = roundUp(PAGE_MAP_SKEW + PageMap.bytesFor(pages), Pages.SIZE);
        long recordBytes = roundUp(SpanTable.bytesFor(pages), Pages.SIZE);
        this.metadataBytes = pageMapBytes + recordBytes;
        long metadata;
        try {
            metadata = os.reserve(metadataBytes);
        } catch (RuntimeException e) {
            os.unmap(base, reservedBytes);
            throw e;
        }
        try {
            os.commit(metadata, metadataBytes);
        } catch (RuntimeException e) {
            os.unmap(base, reservedBytes);
            os.unmap(metadata, metadataBytes);
            throw e;
        }
        this.metadataBase = metadata;
        mappings.add(new long[] {base, reservedBytes});
        mappings.add(new long[] {metadataBase, metadataBytes});
        this.arena = Arena.ofShared();
        this.heap = MemorySegment.ofAddress(base).reinterpret(reservedBytes, arena, null);
        this.unscopedHeap = MemorySegment.ofAddress(base).reinterpret(reservedBytes, keepAlive, null);
        MemorySegment meta = MemorySegment.ofAddress(metadataBase).reinterpret(metadataBytes, arena, null);
        this.pageMap = meta.asSlice(PAGE_MAP_SKEW, pageMapBytes - PAGE_MAP_SKEW);
        this.spanRecords = meta.asSlice(pageMapBytes, recordBytes);
    }

    /** Reserves {@code size + BASE_ALIGNMENT} and gives back the unaligned head and the tail. */
    private static long reserveAligned(OsMemory os, long size) {
        long raw = os.reserve(size + BASE_ALIGNMENT);
        long aligned = roundUp(raw, BASE_ALIGNMENT);
        if (aligned > raw) {
            os.unmap(raw, aligned - raw);
        }
        long tail = raw + size + BASE_ALIGNMENT - (aligned + size);
        if (tail > 0) {
            os.unmap(aligned + size, tail);
        }
        return aligned;
    }

    static long roundUp(long value, long multiple) {
        return (value + multiple - 1) / multiple * multiple;
    }

    long base() {
        return base;
    }

    long reservedBytes() {
        return reservedBytes;
    }

    long committedBytes() {
        return committedBytes;
    }

    /**
     * The whole reservation bound to an automatic scope that keeps the mapping alive: views of it
     * never throw, even after close (they then read fresh zero pages), and never fault.
     */
    MemorySegment unscopedHeap() {
        return unscopedHeap;
    }

    /** The whole reservation as one segment, bound to the heap's lifetime. */
    MemorySegment heap() {
        return heap;
    }

    MemorySegment pageMap() {
        return pageMap;
    }

    MemorySegment spanRecords() {
        return spanRecords;
    }

    /**
     * Maps {@code bytes} of zeroed, read-write metadata memory bound to the heap's lifetime. Its
     * pages become resident only when touched.
     */
    MemorySegment mapMetadata(long bytes) {
        long size = roundUp(Math.max(bytes, 1), Pages.SIZE);
        long address = os.reserve(size);
        try {
            os.commit(address, size);
        } catch (RuntimeException e) {
            os.unmap(address, size);
            throw e;
        }
        mappings.add(new long[] {address, size});
        return MemorySegment.ofAddress(address).reinterpret(size, arena, null);
    }

    /** Commits the next {@code bytes} past the frontier. */
    void commit(long bytes) {
        os.commit(base + committedBytes, bytes);
        if (hugePages) {
            // Advice: refused, the range keeps small pages and works as before.
            os.adviseHugePages(base + committedBytes, bytes);
        }
        committedBytes += bytes;
    }

    /** Gives the physical memory of {@code [offset, offset + bytes)} back; it reads back as zero. */
    void decommit(long offset, long bytes) {
        os.decommit(base + offset, bytes);
    }

    /**
     * Gives the physical memory of {@code [address, address + bytes)}, pages of a metadata mapping
     * (see {@link MetadataReleases}), back; they read back as zero.
     */
    void decommitMetadata(long address, long bytes) {
        os.decommit(address, bytes);
    }

    /**
     * Unmaps the reservation above the committed frontier at once, so that a closed heap keeps
     * only what it committed until it is collected. Without this, each closed but not yet collected
     * heap held its whole reservation (64 GiB by default): a program that made and closed heaps
     * faster than the GC collected them (a heap per test, say) ran the process out of address
     * space after about 2000, and every later mmap failed, the JVM's own included. No access can
     * reach those pages: they were never committed ({@code PROT_NONE}), so no block, view or page
     * map entry points there, and no growth is in flight to commit them ({@link PageHeap#close()}
     * waits for it). Called by the page heap's close, under its locks.
     */
    private void unmapUncommittedTail() {
        long tail = reservedBytes - committedBytes;
        if (tail == 0) {
            return;
        }
        try {
            os.unmap(base + committedBytes, tail);
        } catch (RuntimeException refused) {
            // The tail stays reserved until the heap is collected, as the whole reservation did.
            return;
        }
        // The reservation is the first mapping: the constructor adds it before any other.
        if (committedBytes == 0) {
            mappings.remove(0);
        } else {
            mappings.set(0, new long[] {base, committedBytes});
        }
    }

    /**
     * Invalidates every segment handed out, gives all physical memory back at once by mapping fresh
     * zero pages over every mapping (or, where the OS refuses, by {@code madvise}), and arranges for
     * the address space to be unmapped when this object and every view of {@link #unscopedHeap()}
     * are unreachable (see {@link RawMemory}).
     */
    void close() {
        arena.close();
        unmapUncommittedTail();
        List<long[]> toUnmap = List.copyOf(mappings);
        for (long[] mapping : toUnmap) {
            try {
                os.commit(mapping[0], mapping[1]);
            } catch (RuntimeException cannotRemap) {
                // The mapping stays as it is, never unmapped now: views that outlive the close (an
                // open arena's segments, the Netty adapter's buffers) still point into it, and an
                // unmapping here crashed the JVM at their next access (RefusedRemapTest). Its
                // physical memory goes back at least, if the OS allows; the unmapping waits for the
                // cleanup below, as after a close that succeeds.
                try {
                    os.decommit(mapping[0], mapping[1]);
                } catch (RuntimeException cannotRelease) {
                    // Then the pages are held until the unmapping.
                }
            }
        }
        OsMemory system = os;
        // A cleanup of the automatic arena: it runs when the arena's scope is unreachable, which the
        // scope of every unscoped view keeps it from being. The action must not refer to this object.
        MemorySegment.NULL.reinterpret(0, keepAlive, ignored -> {
            for (long[] mapping : toUnmap) {
                system.unmap(mapping[0], mapping[1]);
            }
        });
    }
}
