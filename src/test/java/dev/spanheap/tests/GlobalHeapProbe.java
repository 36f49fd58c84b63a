package dev.spanheap.tests;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Run in a JVM of its own by {@link GlobalHeapTest}: prints the defaults the global heap was
 * created with (its profile rate, and whether a segment stops working when its block is freed,
 * which is checked mode), or the reason it could not be created, which a second call must give too;
 * with {@code -Dprobe.fixedProfileRate}, whether a call after the property is fixed makes the heap.
 */
public final class GlobalHeapProbe {

    private GlobalHeapProbe() {
    }

    public static void main(String[] args) {
        Spanheap global;
        try {
            global = Spanheap.global();
        } catch (IllegalArgumentException refused) {
            String fix = System.getProperty("probe.fixedProfileRate");
            if (fix != null) {
                // Once the property parses, a retry makes the heap, and every later call returns that one.
                System.setProperty("spanheap.profileRate", fix);
                Spanheap made = Spanheap.global();
                System.out.println("refused, then made: profileRate=" + made.profileRate() + " same="
                        + (Spanheap.global() == made));
                return;
            }
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
