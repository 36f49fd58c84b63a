package dev.spanheap.internal;

/**
 * The checks an address passes before a free or a size query may touch what it points to, and
 * the exceptions, with their messages, that explain each refusal. The fast paths test the same
 * things without messages (package-info, "Freeing"); everything they refuse comes here.
 */
final class FreeChecks {

    private final long base;
    private final long limitBytes;
    private final PageHeap pageHeap;
    private final SpanTable spans;

    FreeChecks(PageHeap pageHeap) {
        this.pageHeap = pageHeap;
        this.spans = pageHeap.spans;
        this.base = pageHeap.base();
        this.limitBytes = pageHeap.reservedBytes();
    }

    /**
     * The page-map entry of {@code address} after checking that it can be a block of this heap and,
     * for a small object, that it is an object's start; throws the exception that explains why not.
     * {@code operation} ("free", "usableSize", "reallocate") names the call in the refusal of 0.
     */
    long checkedEntry(long address, boolean closed, String operation) {
        long offset = address - base;
        if (closed || offset < 0 || offset >= pageHeap.committedBytes() || (address & 7) != 0) {
            throw invalidAddress(address, offset, closed, operation);
        }
        long entry = pageHeap.pageMap.entry((int) (offset >>> Pages.SHIFT));
        int c = PageMap.sizeClass(entry);
        if (c != 0) {
            long spanOffset = offset - ((long) spans.start(PageMap.span(entry)) << Pages.SHIFT);
            if (!SizeClassLookup.isBlockStart(c, spanOffset)) {
                throw interior(address, SizeClasses.SIZE[c]);
            }
        }
        return entry;
    }

    private RuntimeException invalidAddress(long address, long offset, boolean closed, String operation) {
        if (closed) {
            return closed();
        }
        if (address == 0) {
            return new IllegalArgumentException(operation + " of the NULL address");
        }
        if (offset < 0 || offset >= limitBytes) {
            return new IllegalArgumentException(String.format(
                    "0x%x was not allocated by this heap (its addresses are 0x%x..0x%x)",
                    address, base, base + limitBytes));
        }
        if (offset >= pageHeap.committedBytes()) {
            return new IllegalArgumentException(String.format(
                    "0x%x was not allocated by this heap: it lies beyond the heap's committed pages", address));
        }
        return new IllegalArgumentException(String.format(
                "0x%x is not the start of a block: blocks are at least 8-byte aligned", address));
    }

    static IllegalArgumentException interior(long address, long blockSize) {
        return new IllegalArgumentException(String.format(
                "0x%x points inside a %d-byte block, not at its start", address, blockSize));
    }

    /** An address in a block's pages but past its end: the tail of a sampled block's span. */
    static IllegalArgumentException pastBlockEnd(long address, long blockStart, long blockSize) {
        return new IllegalArgumentException(String.format(
                "0x%x is not the start of a block of this heap: it lies past the end of the %d-byte block at 0x%x",
                address, blockSize, blockStart));
    }

    static IllegalStateException doubleFree(long address) {
        return new IllegalStateException(String.format("double free of 0x%x: the block is already free", address));
    }

    static IllegalArgumentException inFreePages(long address) {
        return new IllegalArgumentException(String.format(
                "0x%x is not a block of this heap: it lies in free pages", address));
    }

    static IllegalStateException notAllocated(long address) {
        return new IllegalStateException(String.format("0x%x is not allocated: it was freed", address));
    }

    static IllegalArgumentException notABlockStart(long address) {
        return new IllegalArgumentException(String.format("0x%x is not the start of a block of this heap", address));
    }

    static IllegalStateException closed() {
        return new IllegalStateException("Spanheap is closed");
    }
}
