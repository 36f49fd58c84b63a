package dev.spanheap.internal;

/**
 * The operating system's virtual memory calls, as the page heap uses them (see package-info for
 * the page states). The production implementation is {@link LinuxOsMemory}; tests substitute fakes
 * that fail on demand or count calls.
 *
 * <p>Every method throws {@link dev.spanheap.OsMemoryException} naming the call, the size and errno
 * when the system refuses.
 */
public interface OsMemory {

    /** Reserves {@code bytes} of address space with no access and no physical memory behind it. */
    long reserve(long bytes);

    /** Makes {@code [address, address + bytes)} of a reservation readable and writable. */
    void commit(long address, long bytes);

    /**
     * Gives the physical pages of a committed range back to the OS, keeping the mapping: the range
     * stays accessible and reads back as zero ({@code MADV_DONTNEED}).
     */
    void decommit(long address, long bytes);

    /**
     * Asks the OS to back a committed range with transparent huge pages ({@code MADV_HUGEPAGE}).
     * Advice only: returns false when the OS refuses it (a kernel without them), and the range
     * then works with small pages as before.
     */
    default boolean adviseHugePages(long address, long bytes) {
        return false;
    }

    /** Returns a whole reservation to the OS; the addresses become invalid. */
    void unmap(long address, long bytes);
}
