package dev.spanheap.bench.peers;

/**
 * One allocator under comparison, driven through numbered slots so that every peer does the same
 * bookkeeping: the benchmark says "allocate into slot 3", "write to slot 3", "free slot 3", and the
 * peer keeps its own kind of handle (an address, a ByteBuf, a ByteBuffer) in the slot. Each JMH fork
 * measures one peer, so the calls through this interface stay monomorphic.
 *
 * <p>Slots may be filled on one thread and freed on another when the benchmark orders the two
 * (cross-thread workloads publish slots with release/acquire).
 */
public interface Peer extends AutoCloseable {

    /** Prepares {@code slots} empty slots. */
    void open(int slots);

    /**
     * Called before {@link #open} by workloads that free a block on another thread than the one
     * that allocated it; peers with thread-confined handles switch to shared ones.
     */
    default void prepareCrossThread() {
    }

    void allocate(int slot, long size);

    /** Writes 8 bytes at the start of the block in {@code slot} (its size is at least 8). */
    void write(int slot, long value);

    void free(int slot);

    /**
     * Writes one byte in every 4 KiB of the first {@code size} bytes of the block in {@code slot}, so
     * that all of its pages are resident; for workloads that measure RSS.
     */
    default void touchPages(int slot, long size) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot touch its blocks' pages");
    }

    @Override
    void close();
}
