package dev.spanheap.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link java.lang.foreign.Arena} whose memory comes from a {@link Heap}: a region allocator
 * that carves small requests from chunks of heap memory and gives large ones a block each, and
 * frees everything at once when it closes.
 *
 * <p>Lifetime and thread rules are the JDK's own, because the scope is a JDK arena
 * ({@link Arena#ofConfined()} or {@link Arena#ofShared()}): the whole reservation is re-bound to it
 * once, with the restricted {@code reinterpret}, and every segment is an {@code asSlice} of that
 * view (cheap, and not caller-sensitive). Closing the JDK arena is what makes every segment throw
 * {@link IllegalStateException}; for a shared arena it handshakes all threads, so an access in
 * flight finishes or fails before the memory goes back to the heap. Where an operation must fail
 * (wrong thread, closed), the JDK arena throws its own exception, so callers see exactly what
 * {@code Arena.ofConfined()} or {@code Arena.ofShared()} would throw.
 *
 * <p>Segments are zeroed, as the JDK's are: carved ones in a confined arena by zeroing the chunk a
 * little ahead of the cursor, in a shared one by a fill of their bytes; whole blocks by the heap
 * (pages that were given back to the OS read as zero and are not filled again).
 *
 * <p>Shared arenas serialise carving on a lock; the fill happens outside it, through the scoped
 * view, so a close that races an allocation makes the fill throw rather than write to memory the
 * heap has taken back.
 */
public final class HeapArena implements Arena {

    /** The first chunk: room for the handful of small buffers a typical native call needs. */
    static final int FIRST_CHUNK_BYTES = 2048;
    /**
     * Chunks double up to this (a size class, so each chunk is a fast small allocation), and no
     * further: an arena's unused chunk tail stays under 32 KiB.
     */
    static final int MAX_CHUNK_BYTES = 32 << 10;
    /** A confined arena zeroes its chunk ahead of the cursor by at least this much at a time; see {@link #zeroAhead}. */
    static final int ZERO_AHEAD_BYTES = 512;
    /** Requests above this get a heap block of their own instead of space in a chunk. */
    static final int MAX_CARVED_BYTES = MAX_CHUNK_BYTES / 4;
    /**
     * Bytes left unused at the start of every heap block the arena takes, chunk or block of its
     * own, so that no segment of the arena starts where a heap block does: a free of one through
     * the heap ({@code free(segment)} or {@code free(segment.address())}) is then refused as an
     * interior address, where it used to hand the block to another owner while the arena still
     * used it. A multiple of 16, so a block's alignment carries over.
     */
    static final int BLOCK_HEADER_BYTES = 16;

    private final Heap heap;
    private final Arena scope;
    /** The heap's reservation, bound to {@link #scope}: segments are slices of it. */
    private final MemorySegment view;
    private final long base;
    /** The confined arena's thread, or null for a shared arena. */
    private final Thread owner;
    /** Guards the bookkeeping of a shared arena; null for a confined one. */
    private final ReentrantLock lock;

    private boolean closed;
    /** The current chunk's free space, {@code [cursor, limit)}. */
    private long cursor;
    private long limit;
    /** A confined arena's current chunk reads as zero from {@link #cursor} up to here. */
    private long zeroedTo;
    private int nextChunkBytes;
    /** The chunk taken when the arena opens: most arenas need no other block. */
    private final long firstChunk;
    /** The other blocks to free at close, chunks and large requests; null until needed. */
    private long[] blocks;
    private int blockCount;

    private HeapArena(Heap heap, Arena scope, Thread owner) {
        this.heap = heap;
        this.scope = scope;
        this.owner = owner;
        this.lock = owner == null ? new ReentrantLock() : null;
        this.base = heap.base();
        // The cleanup keeps the heap's memory mapped while the arena's scope, which every segment
        // of the arena holds, is alive (see HeapSegments.keepMappedWhileOpen).
        try {
            this.view = heap.segments().memory().reinterpret(scope, heap.segments().keepMappedWhileOpen());
        } catch (IllegalStateException heapClosed) {
            scope.close();
            throw FreeChecks.closed();
        }
        // The first chunk now rather than at the first request: then allocate() runs its slow path
        // only when a chunk fills up, rarely enough that the JIT keeps it out of allocate's compiled
        // code, which stays small enough to be inlined into callers (measured: inlined, the four
        // segments of a typical lifetime are never allocated on the Java heap).
        long chunk;
        try {
            chunk = heap.allocate(FIRST_CHUNK_BYTES, 1);
        } catch (RuntimeException | Error e) {
            scope.close();
            throw e;
        }
        this.firstChunk = chunk;
        this.cursor = chunk + BLOCK_HEADER_BYTES;
        this.limit = chunk + FIRST_CHUNK_BYTES;
        this.zeroedTo = chunk;
        this.nextChunkBytes = FIRST_CHUNK_BYTES * 2;
    }

    /** An arena confined to the calling thread, like {@link Arena#ofConfined()}. */
    public static HeapArena confined(Heap heap) {
        heap.checkOpen();
        return new HeapArena(heap, Arena.ofConfined(), Thread.currentThread());
    }

    /** An arena any thread may use and close, like {@link Arena#ofShared()}. */
    public static HeapArena shared(Heap heap) {
        heap.checkOpen();
        return new HeapArena(heap, Arena.ofShared(), null);
    }

    /**
     * Kept small, so that the JIT inlines it into the caller and the segment it returns need not
     * be allocated when the caller keeps it local: the checks' messages and the shared arena's lock
     * are out of line.
     */
    @Override
    public MemorySegment allocate(long byteSize, long byteAlignment) {
        if (byteSize < 0 || byteAlignment <= 0 || (byteAlignment & (byteAlignment - 1)) != 0) {
            throw badRequest(byteSize, byteAlignment);
        }
        long reserved = owner == Thread.currentThread() && !closed
                ? reserve(byteSize, byteAlignment)
                : reserveShared(byteSize, byteAlignment);
        if (reserved < 0) {
            return view.asSlice(~reserved - base, byteSize);
        }
        MemorySegment segment = view.asSlice(reserved - base, byteSize);
        if (owner == null) {
            segment.fill((byte) 0);
        } else if (reserved + byteSize > zeroedTo) {
            zeroAhead(reserved + byteSize);
        }
        return segment;
    }

    /**
     * Zeroes the confined arena's chunk from {@link #zeroedTo} to at least {@code end}, and
     * {@link #ZERO_AHEAD_BYTES} further where the chunk allows, in one loop of word stores that the
     * JIT unrolls and vectorises: a typical lifetime's small segments then share one such loop
     * instead of zeroing each (JMH, four segments of 16-256 B per lifetime: about 60 ns this way,
     * 65-85 with a {@code fill} or a store loop per segment, 41 with no zeroing at all, for which
     * the setup of each short loop accounts). Bytes below {@code zeroedTo} that no segment has
     * been given yet are still zero: only the arena hands them out. Only for confined arenas,
     * through the all-of-memory segment: no other thread can close one while its owner is in
     * {@code allocate}, so the chunk is the arena's throughout (a shared arena fills each segment
     * through its scope, so that a racing close stops the write).
     */
    private void zeroAhead(long end) {
        long from = zeroedTo;
        // Whole words: chunks and their limits are 16-byte aligned, and so is every step here.
        long to = Math.min(limit, (Math.max(end, from + ZERO_AHEAD_BYTES) + 15) & -16L);
        int words = (int) ((to - from) >>> 3);
        for (int i = 0; i < words; i++) {
            RawMemory.ALL.set(ValueLayout.JAVA_LONG_UNALIGNED, from + ((long) i << 3), 0L);
        }
        zeroedTo = to;
    }

    /**
     * {@link #reserve} for a shared arena, under its lock; for a confined arena, called only to
     * throw the JDK's exception (another thread, or closed).
     */
    private long reserveShared(long byteSize, long byteAlignment) {
        if (lock == null) {
            throw scopeFailure();
        }
        LockWaits.lock(lock);
        try {
            if (closed) {
                throw scopeFailure();
            }
            return reserve(byteSize, byteAlignment);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Space for a request: carved from the current chunk when it fits, or from a new chunk when the
     * request is small; its address, to be zeroed by the caller. Otherwise a block of its own that
     * the heap has zeroed, returned as the complement of its address (negative: addresses are not).
     */
    private long reserve(long byteSize, long byteAlignment) {
        long start = (cursor + byteAlignment - 1) & -byteAlignment;
        if (start >= cursor && byteSize <= limit - start) {
            cursor = start + byteSize;
            return start;
        }
        return reserveSlow(byteSize, byteAlignment);
    }

    private long reserveSlow(long byteSize, long byteAlignment) {
        if (byteSize > MAX_CARVED_BYTES || byteAlignment > MAX_CARVED_BYTES) {
            return ownBlock(byteSize, byteAlignment);
        }
        int chunkBytes = nextChunkBytes;
        // Chunks are 16-byte aligned (every block of 16 bytes or more is); a larger alignment may need its whole value as padding.
        while (chunkBytes < BLOCK_HEADER_BYTES + byteSize + (byteAlignment > 16 ? byteAlignment : 0)) {
            chunkBytes <<= 1;
        }
        nextChunkBytes = Math.min(chunkBytes << 1, MAX_CHUNK_BYTES);
        long chunk = heap.allocate(chunkBytes, 1);
        remember(chunk);
        long start = (chunk + BLOCK_HEADER_BYTES + byteAlignment - 1) & -byteAlignment;
        cursor = start + byteSize;
        limit = chunk + chunkBytes;
        zeroedTo = chunk;
        return start;
    }

    private long ownBlock(long byteSize, long byteAlignment) {
        // The header as large as the alignment, so that the segment after it keeps the alignment.
        long header = Math.max(BLOCK_HEADER_BYTES, byteAlignment);
        if (byteSize > heap.reservedBytes() - header || byteAlignment > heap.reservedBytes()) {
            // What Arena.ofConfined() throws for a request it cannot satisfy.
            throw new OutOfMemoryError("Unable to allocate " + byteSize + " bytes");
        }
        long block = heap.allocateZeroed(byteSize + header, byteAlignment);
        remember(block);
        return ~(block + header);
    }

    private void remember(long block) {
        if (blocks == null) {
            blocks = new long[4];
        } else if (blockCount == blocks.length) {
            blocks = Arrays.copyOf(blocks, blockCount * 2);
        }
        blocks[blockCount++] = block;
    }

    /** The JDK scope's own exception for this thread and state: wrong thread, or already closed. */
    private RuntimeException scopeFailure() {
        // reinterpret checks that the scope is alive and owned by the calling thread, and throws
        // exactly what an access to one of its segments would.
        MemorySegment.NULL.reinterpret(0, scope, null);
        return new IllegalStateException("Already closed");
    }

    /** The JDK arenas' refusal of a request, with their messages; they check it before the scope. */
    private static IllegalArgumentException badRequest(long byteSize, long byteAlignment) {
        if (byteSize < 0) {
            return new IllegalArgumentException("The provided allocation size is negative: " + byteSize);
        }
        return new IllegalArgumentException("Invalid alignment constraint : " + byteAlignment);
    }

    @Override
    public MemorySegment.Scope scope() {
        return scope.scope();
    }

    /**
     * Closes the scope (the JDK's rules: twice, or from the wrong thread, throws), then gives every
     * block back to the heap. A heap already closed has taken its memory back already.
     */
    @Override
    public void close() {
        // Only one close gets past the scope's; after it, no allocate carves or adds a block.
        scope.close();
        long[] others;
        int count;
        if (lock != null) {
            LockWaits.lock(lock);
        }
        try {
            closed = true;
            others = blocks;
            count = blockCount;
        } finally {
            if (lock != null) {
                lock.unlock();
            }
        }
        if (!giveBack(firstChunk)) {
            return;
        }
        for (int i = 0; i < count; i++) {
            if (!giveBack(others[i])) {
                return;
            }
        }
    }

    /**
     * Frees {@code block}; false if the heap is closed, before or during the free, which took all
     * of its memory back. A heap closing while the arena gave its blocks back made the arena's
     * close throw "Spanheap is closed" (SharedArenaTest).
     */
    private boolean giveBack(long block) {
        try {
            heap.free(block);
            return true;
        } catch (IllegalStateException closedMeanwhile) {
            if (heap.isClosed()) {
                return false;
            }
            throw closedMeanwhile;
        }
    }
}
