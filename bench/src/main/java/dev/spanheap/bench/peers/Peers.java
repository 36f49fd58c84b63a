package dev.spanheap.bench.peers;

import dev.spanheap.Spanheap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/** The peers by name, in the order the report lists them, and which of them this machine has. */
public final class Peers {

    public static final String SPANHEAP = "spanheap";
    /** Spanheap through its Netty adapter, SpanheapByteBufAllocator. */
    public static final String SPANHEAP_NETTY = "spanheap-netty";
    /**
     * Spanheap with heap profiling off ({@code profileRate(0)}): not a column of the report, but the
     * baseline that measures what the default profile rate costs (issue 12).
     */
    public static final String SPANHEAP_UNPROFILED = "spanheap-unprofiled";

    /**
     * Spanheap through {@code localHeap()} with {@code transparentHugePages(true)}: not a column of
     * the report, but what that option buys on large working sets (the Netty pattern).
     */
    public static final String SPANHEAP_HUGE_PAGES = "spanheap-hugepages";

    /**
     * Spanheap's process-wide heap ({@code Spanheap.global()}), which a caller reaches as a constant,
     * as it reaches a native allocator; {@link #SPANHEAP} reaches a heap of its own through fields.
     */
    public static final String SPANHEAP_GLOBAL = "spanheap-global";

    private static final Map<String, Supplier<Optional<Peer>>> ALL = new LinkedHashMap<>();

    static {
        ALL.put(SPANHEAP, () -> Optional.of(new SpanheapPeer(Spanheap.create())));
        ALL.put(SPANHEAP_UNPROFILED, () -> Optional.of(new SpanheapPeer(Spanheap.builder().profileRate(0).build())));
        ALL.put(SPANHEAP_GLOBAL, () -> Optional.of(new SpanheapGlobalPeer()));
        ALL.put("spanheap-segment", () -> Optional.of(new SpanheapSegmentPeer()));
        ALL.put("spanheap-local", () -> Optional.of(new SpanheapLocalPeer(Spanheap.create())));
        ALL.put(SPANHEAP_HUGE_PAGES, () -> Optional.of(new SpanheapLocalPeer(
                Spanheap.builder().transparentHugePages(true).build())));
        ALL.put(SPANHEAP_NETTY, () -> Optional.of(NettyPeer.spanheap()));
        ALL.put("tcmalloc", NativePeer::tcmalloc);
        ALL.put("mimalloc", NativePeer::mimalloc);
        ALL.put("glibc", () -> Optional.of(NativePeer.glibc()));
        ALL.put("netty-adaptive", () -> Optional.of(NettyPeer.adaptive()));
        ALL.put("netty-pooled", () -> Optional.of(NettyPeer.pooled()));
        ALL.put("arena-per-buffer", () -> Optional.of(new ArenaPeer()));
        ALL.put("allocate-direct", () -> Optional.of(new DirectBufferPeer()));
    }

    private Peers() {
    }

    public static List<String> names() {
        return List.copyOf(ALL.keySet());
    }

    /** The named peer, or empty when its library is not installed here. */
    public static Optional<Peer> create(String name) {
        Supplier<Optional<Peer>> factory = ALL.get(name);
        if (factory == null) {
            throw new IllegalArgumentException("no peer named " + name + "; peers: " + names());
        }
        return factory.get();
    }

    /** Makes the named peer or fails with the reason; for benchmarks, which run available peers only. */
    public static Peer require(String name) {
        return create(name).orElseThrow(() -> new IllegalStateException(name + " is not installed on this machine"));
    }
}
