package dev.spanheap.internal;

/** The check every {@code verify()} uses: a broken invariant throws, naming itself. A leaf. */
final class Invariants {

    private Invariants() {
    }

    static void check(boolean condition, String format, Object... args) {
        if (!condition) {
            throw new IllegalStateException("heap invariant broken: " + String.format(format, args));
        }
    }
}
