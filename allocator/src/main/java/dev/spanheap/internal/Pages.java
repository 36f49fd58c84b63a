package dev.spanheap.internal;

/**
 * The page, the unit in which the page heap hands out memory and the page map records spans: 8 KiB
 * as in Go and TCMalloc. A leaf: every rung of the ladder (package-info) may use it without
 * depending on the page heap.
 */
public final class Pages {

    public static final int SHIFT = 13;
    public static final long SIZE = 1L << SHIFT;

    private Pages() {
    }
}
