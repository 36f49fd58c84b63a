package dev.spanheap;

/**
 * A system call that manages Spanheap's address space ({@code mmap}, {@code madvise},
 * {@code munmap}) failed. The message names the call, the size it was asked for and errno.
 */
public final class OsMemoryException extends RuntimeException {

    private final String call;
    private final long bytes;
    private final int errno;

    public OsMemoryException(String call, long bytes, int errno, String reason) {
        super(call + "(" + bytes + " bytes) failed: errno " + errno + " (" + reason + ")");
        this.call = call;
        this.bytes = bytes;
        this.errno = errno;
    }

    /** The name of the failed system call, for example {@code "mmap"}. */
    public String call() {
        return call;
    }

    /** The number of bytes the call was asked to map, advise or unmap. */
    public long bytes() {
        return bytes;
    }

    /** The value of {@code errno} right after the call. */
    public int errno() {
        return errno;
    }
}
