package dev.spanheap.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * A heap's memory as {@link MemorySegment}s: the segment each block is handed out as, the address a
 * segment names when it comes back to be freed, and the views of the whole reservation that
 * adapters re-bind to scopes of their own ({@link HeapArena}) or wrap without a scope (Netty's
 * buffers).
 *
 * <p>Unchecked, a block's segment is its address bound to an arena that closes with the heap (one
 * per stripe of threads, {@link SegmentArenas}): it stops working then. In checked mode each
 * block's segment has a scope of its own that its free or reallocation ends ({@link BlockScopes}),
 * so a stale segment is refused even after its block went to a new owner.
 */
public final class HeapSegments {

    private static final MemorySegment.Scope GLOBAL_SCOPE = Arena.global().scope();

    /** The heap, for whether it is open: a refusal that raced its close is reported as the close. */
    private final Heap heap;
    private final MemorySegment memory;
    /**
     * The arenas that blocks' segments are bound to (not checked mode), else null: {@link #segment}
     * and {@link #segmentAddress} test this field, which the first loads anyway, instead of loading a
     * flag too.
     */
    private final SegmentArenas segmentArenas;
    /** The reservation bound to the scope that keeps the mapping alive; see {@link #unscopedByteBuffer}. */
    private final MemorySegment unscopedMemory;
    /** See {@link #keepMappedWhileOpen()}; one per heap, so that an arena's scope costs one registration. */
    private final Consumer<MemorySegment> keepMapped;
    /** Checked mode's scope per block; null unchecked. */
    private final BlockScopes blockScopes;
    private final long base;
    private final long reservedBytes;

    HeapSegments(Heap heap, AddressSpace space, long base, long reservedBytes, BlockScopes blockScopes) {
        this.heap = heap;
        this.memory = space.heap();
        this.unscopedMemory = space.unscopedHeap();
        MemorySegment mapping = unscopedMemory;
        this.keepMapped = closing -> Reference.reachabilityFence(mapping);
        this.blockScopes = blockScopes;
        this.segmentArenas = blockScopes == null ? new SegmentArenas() : null;
        this.base = base;
        this.reservedBytes = reservedBytes;
    }

    /**
     * A segment over the block {@code [address, address + size)} just handed out: valid until the
     * heap is closed, or, in checked mode, until the block is freed or reallocated (see
     * {@link BlockScopes}). Unchecked, it is the address re-bound to the calling thread's arena (see
     * {@link SegmentArenas}), not a slice of {@link #memory}: a slice checks its bounds and carries
     * its parent's read-only flag, which each access then tests, while the address is the
     * allocator's own (16 B pairs through the segment API took about 2 ns less, JMH).
     */
    public MemorySegment segment(long address, long size) {
        SegmentArenas arenas = segmentArenas;
        if (arenas != null) {
            Arena arena = arenas.current();
            if (arena == null) {
                arena = firstArena(address);
            }
            try {
                return MemorySegment.ofAddress(address).reinterpret(size, arena, null);
            } catch (IllegalStateException arenaClosed) {
                // A close that ran after the allocation (re-binding refuses a closed arena, where a
                // slice would have made a dead segment): reported as the close, like every refusal.
                throw FreeChecks.closed();
            }
        }
        return blockScopes.open(address, size);
    }

    /**
     * The arena of a thread's first segment: made now, the block at {@code address} freed if that
     * fails for want of Java heap (after close the heap took every block back already).
     */
    private Arena firstArena(long address) {
        try {
            return segmentArenas.create();
        } catch (OutOfMemoryError fullJavaHeap) {
            try {
                heap.free(address);
            } catch (RuntimeException closedMeanwhile) {
                fullJavaHeap.addSuppressed(closedMeanwhile);
            }
            throw fullJavaHeap;
        }
    }

    /** Closes the arenas of unchecked segments, so that every segment fails from now on (the heap's close). */
    void closeSegmentArenas() {
        if (segmentArenas != null) {
            segmentArenas.close();
        }
    }

    /** The arenas of unchecked segments; null in checked mode (tests). */
    SegmentArenas segmentArenas() {
        return segmentArenas;
    }

    /**
     * The address of {@code segment} for a free or a reallocation ({@code operation}) through the
     * segment API. {@code MemorySegment.NULL} and heap segments over a Java array's start (address
     * 0) are refused. Unchecked, the address is all there is to check, and the free checks it. In
     * checked mode the segment must also be the live segment of its block, or a raw address wrapped
     * in a global segment ({@code MemorySegment.ofAddress}): a stale segment is then refused even
     * after its block went to a new owner, and so is any segment of another scope.
     */
    public long segmentAddress(MemorySegment segment, String operation) {
        long address = Objects.requireNonNull(segment, "segment").address();
        if (address == 0) {
            throw zeroAddressRefusal(operation, segment);
        }
        if (segmentArenas != null) {
            return address;
        }
        return checkedSegmentAddress(segment);
    }

    /**
     * Why a free or reallocate ({@code operation}) of {@code segment}, whose address is 0, is
     * refused: it is {@link MemorySegment#NULL}, or a heap segment over the start of a Java array or
     * buffer.
     */
    private IllegalArgumentException zeroAddressRefusal(String operation, MemorySegment segment) {
        heap.checkOpen();
        return new IllegalArgumentException(segment.isNative() ? operation + " of MemorySegment.NULL"
                : operation + " of a heap segment (over a Java array or buffer): "
                        + "only native memory from this heap can be freed");
    }

    /** {@link #segmentAddress} in checked mode: refuses a segment that is not its block's live one. */
    private long checkedSegmentAddress(MemorySegment segment) {
        heap.checkOpen();
        long address = segment.address();
        MemorySegment.Scope scope = segment.scope();
        if (scope.equals(GLOBAL_SCOPE) || blockScopes.isScopeOf(address, scope)) {
            return address;
        }
        if (Long.compareUnsigned(address - base, reservedBytes) >= 0) {
            // Outside the heap: the free's own checks refuse it as foreign.
            return address;
        }
        // A close racing this check has closed the segment's scope too: that is the close, not a double free.
        if (!scope.isAlive()) {
            throw heap.closedOr(new IllegalStateException(String.format("double free of 0x%x: the segment's scope "
                    + "is closed (its block was freed or reallocated, or its arena closed)", address)));
        }
        throw heap.closedOr(new IllegalArgumentException(String.format("segment at 0x%x did not come from this "
                + "heap's allocate or reallocate, nor wraps a raw address: an arena's segments go back when the "
                + "arena closes", address)));
    }

    /**
     * A cleanup for a scope that re-binds this heap's memory ({@link HeapArena}): it does nothing
     * when the scope closes, but while the scope holds it, it holds the view that keeps the heap's
     * memory mapped after close (see {@link AddressSpace#unscopedHeap()}). Without it, a segment of
     * an arena never closed, used after its heap was closed and dropped, read unmapped memory and
     * crashed the JVM (ArenaOutlivesHeapTest).
     */
    Consumer<MemorySegment> keepMappedWhileOpen() {
        return keepMapped;
    }

    /** The whole reservation as one segment bound to the heap's lifetime, for re-binding to other scopes. */
    public MemorySegment memory() {
        return memory;
    }

    /**
     * A direct {@link java.nio.ByteBuffer} over {@code [address, address + size)} of this heap with no
     * scope to check or acquire: the buffer keeps the heap's mapping alive, so it can never fault,
     * but it does not stop working when the block is freed or the heap closes (it then reads
     * another block, or zero pages). For adapters whose buffers have their own lifetime checks
     * (Netty's reference counts); NIO operations on it pay no atomic per call.
     */
    public java.nio.ByteBuffer unscopedByteBuffer(long address, int size) {
        return unscopedMemory.asSlice(address - base, size).asByteBuffer();
    }
}
