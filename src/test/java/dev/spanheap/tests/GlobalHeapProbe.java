package dev.spanheap.tests;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Run in a JVM of its own by {@link GlobalHeapTest}: prints the defaults the global heap was
 * created with (its profile rate, and whether a segment stops working when its block is freed,
 * which is checked mode), or the reason it could not be created, which a second call must give too.
 */
public final class GlobalHeapProbe {

    private GlobalHeapProbe() {
    }

    public static void main(String[] args) {
        Spanheap global;
        try {
            global = Spanheap.global();
        } catch (IllegalArgumentException refused) {
            // A second call must say the same, not that a class could not be initialised.
            try {
                Spanheap.global();
                System.out.println("refused once, then made");
            } catch (IllegalArgumentException again) {
                System.out.println("refused: " + refused.getMessage()
                        + (again.getMessage().equals(refused.getMessage()) ? "" : " / then: " + again.getMessage()));
            }
            return;
        }
        MemorySegment segment = global.allocate(64);
        global.free(segment);
        boolean segmentDied;
        try {
            segment.get(ValueLayout.JAVA_LONG, 0);
            segmentDied = false;
        } catch (IllegalStateException alreadyClosed) {
            segmentDied = true;
        }
        System.out.println("profileRate=" + global.profileRate() + " checked=" + segmentDied);
    }
}
