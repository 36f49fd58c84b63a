package dev.spanheap.internal;

import java.lang.foreign.MemorySegment;

/**
 * The process's memory as one segment, for the allocator's own accesses to its mappings on the fast
 * paths: the page map and the first word of small objects. A constant segment lets the JIT fold
 * its bounds and lifetime checks, which arena-bound segments held in fields do not allow (a
 * measurable share of an allocate/free pair in JMH).
 *
 * <p>Why this cannot crash the JVM: the allocator only touches addresses inside its reservation
 * (checked first), and {@link AddressSpace#close()} never unmaps while the heap object is
 * reachable. It replaces the mappings with fresh zero pages (so the memory goes back to the OS at
 * once) and unmaps them only when the heap is unreachable (the cleanup of an automatic arena that
 * it and its unscoped views keep alive; see {@code AddressSpace}), when no thread can be inside it. Segments handed to users are bound to the heap's arena instead, so
 * they throw after close.
 */
final class RawMemory {

    static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private RawMemory() {
    }
}
