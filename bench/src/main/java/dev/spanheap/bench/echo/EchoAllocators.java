package dev.spanheap.bench.echo;

import dev.spanheap.Spanheap;
import dev.spanheap.netty.SpanheapByteBufAllocator;
import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.List;

/** The allocators the echo server runs with, by name, and the memory each says it uses. */
final class EchoAllocators {

    static final List<String> NAMES = List.of("spanheap", "netty-pooled", "netty-adaptive");

    private EchoAllocators() {
    }

    static ByteBufAllocator create(String name) {
        return switch (name) {
            case "spanheap" -> new SpanheapByteBufAllocator(Spanheap.create());
            case "netty-pooled" -> new PooledByteBufAllocator(true);
            case "netty-adaptive" -> new AdaptiveByteBufAllocator(true, true);
            default -> throw new IllegalArgumentException("no echo allocator " + name + "; allocators: " + NAMES);
        };
    }

    /**
     * The direct memory the allocator holds from the OS: Spanheap's retained heap (held minus
     * released), Netty's direct memory in its arenas' chunks.
     */
    static long heldBytes(ByteBufAllocator allocator) {
        if (allocator instanceof SpanheapByteBufAllocator spanheap) {
            var stats = spanheap.heap().memStats();
            return stats.heapSys() - stats.heapReleased();
        }
        return ((ByteBufAllocatorMetricProvider) allocator).metric().usedDirectMemory();
    }
}
