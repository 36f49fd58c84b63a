package dev.spanheap.internal;

import java.util.Objects;
import java.util.function.Function;

/**
 * How Spanheap's own adapter modules reach the {@link Heap} behind a public {@code Spanheap}
 * without a public accessor on it (the JDK's shared-secrets pattern): {@code Spanheap} registers a
 * function when its class initialises, and this package is exported only to those modules.
 */
public final class HeapAccess {

    private static volatile Function<Object, Heap> heaps;

    private HeapAccess() {
    }

    /** Called once, by {@code Spanheap}'s static initialiser. */
    public static void register(Function<Object, Heap> heapOfSpanheap) {
        heaps = Objects.requireNonNull(heapOfSpanheap);
    }

    /** The heap behind {@code spanheap}, a {@code dev.spanheap.Spanheap}. */
    public static Heap heapOf(Object spanheap) {
        // An instance exists, so its class has initialised and registered.
        return heaps.apply(Objects.requireNonNull(spanheap, "spanheap"));
    }
}
