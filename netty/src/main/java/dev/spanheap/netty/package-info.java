/**
 * Spanheap for Netty. {@link dev.spanheap.netty.SpanheapByteBufAllocator} gives Netty direct buffers
 * whose memory is a block of a {@link dev.spanheap.Spanheap}.
 *
 * <p>Design: the buffers are Netty's own unpooled direct buffers, with one hook overridden, the one
 * that obtains their memory ({@code allocateDirectBuffer}, returning Netty's
 * {@code CleanableDirectBuffer}): a {@link dev.spanheap.netty.HeapBlock} over a heap block, whose
 * {@code clean()} frees it. Netty itself calls that hook for a buffer's first memory and for every
 * change of capacity, and {@code clean()} at the last release, so reference counting, bounds, byte
 * orders and NIO views are Netty's code, unchanged, and cannot drift from Netty's behaviour. The
 * pooling Netty's pooled allocator does in its arenas is the heap's: thread caches, size classes,
 * and a scavenger that returns idle pages to the OS.
 */
package dev.spanheap.netty;
