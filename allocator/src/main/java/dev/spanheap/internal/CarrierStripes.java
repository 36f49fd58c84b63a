package dev.spanheap.internal;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Which of the virtual threads' stripes ({@link StripedCaches}) a virtual thread uses: the one of the
 * carrier thread it runs on now, found by the carrier's {@code pthread_self()}. Virtual threads on
 * one carrier never run at once; on two carriers they may, and then they must not share a stripe.
 *
 * <p>Stripes chosen by the virtual thread's id put two running virtual threads on one stripe
 * whenever their ids met modulo the stripe count, which with eight stripes and eight or more
 * carriers is the rule: two virtual threads whose ids met, on two carriers, took 690-855 ns a 16 B
 * pair each, against 31-36 with a stripe per carrier (a plain loop). A stripe per carrier keeps
 * every carrier on its own stripe's lock and cache lines as long as there are no more carriers than
 * stripes.
 *
 * <p>A carrier claims the first free stripe from its key's hash on, with a compare-and-set, the
 * first time it asks; with every stripe claimed (more carriers than stripes, or carriers that ended
 * and were replaced), the others share stripes by hash, which stays correct, since each stripe has
 * its lock. {@code pthread_self} is a critical downcall of a few nanoseconds.
 */
final class CarrierStripes {

    private static final MethodHandle PTHREAD_SELF = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().findOrThrow("pthread_self"),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG), Linker.Option.critical(false));
    private static final VarHandle KEY = MethodHandles.arrayElementVarHandle(long[].class);

    /** By stripe, the {@code pthread_self} of the carrier that claimed it; 0 while unclaimed. */
    private final long[] keys;

    /** @param stripes how many stripes there are: a power of two */
    CarrierStripes(int stripes) {
        this.keys = new long[stripes];
    }

    /** The calling thread's native thread: for a virtual thread, its carrier's. */
    static long currentCarrier() {
        try {
            return (long) PTHREAD_SELF.invokeExact();
        } catch (Throwable e) {
            throw new AssertionError("pthread_self failed", e);
        }
    }

    /** The stripe of the carrier the calling virtual thread runs on now. */
    int current() {
        return of(currentCarrier());
    }

    /** The stripe of the carrier with {@code pthread_self} value {@code carrier}, claiming one if it has none. */
    int of(long carrier) {
        int mask = keys.length - 1;
        int home = (int) ((carrier * 0x9E3779B97F4A7C15L) >>> 40) & mask;
        for (int i = 0; i <= mask; i++) {
            int stripe = (home + i) & mask;
            long key = keys[stripe];
            if (key == carrier) {
                return stripe;
            }
            if (key == 0) {
                if (KEY.compareAndSet(keys, stripe, 0L, carrier)) {
                    return stripe;
                }
                // Another carrier claimed it just now; only this carrier ever writes its own key.
            }
        }
        return home;
    }
}
