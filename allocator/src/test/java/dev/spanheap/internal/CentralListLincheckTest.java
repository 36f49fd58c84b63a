package dev.spanheap.internal;

import java.util.concurrent.atomic.AtomicLongArray;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.Validate;
import org.junit.jupiter.api.Test;

/**
 * Model checking of the cross-thread hand-off of objects through a size class's {@link CentralList}:
 * the transfer stack, the span bitmaps, spans cut from and returned to the page heap, from two
 * threads (what thread caches do when they refill and drain). Two slots hold taken objects; a thread
 * takes an object into a slot, or gives back the object another thread put there. In every
 * interleaving Lincheck explores: the slots behave like two booleans (linearizable against
 * {@link Slots}), the list never hands out an object that is in the other slot, and afterwards the
 * list verifies and its census accounts for every object of every span it cut.
 */
@Param(name = "slot", gen = IntGen.class, conf = "0:1")
public class CentralListLincheckTest {

    /** 2 KiB objects, four to a span: spans are cut and returned within a few operations. */
    private static final int SIZE_CLASS = SizeClassLookup.sizeClassOf(2048);

    private final PageHeap pageHeap = new PageHeap(LinuxOsMemory.INSTANCE, 1L << 20, 16);
    private final CentralList central = new CentralList(SIZE_CLASS, pageHeap, new FreeMarks(pageHeap));
    private final AtomicLongArray slots = new AtomicLongArray(2);

    @Operation
    public boolean take(@Param(name = "slot") int slot) {
        long[] out = new long[1];
        if (central.take(out, 0, 1) != 1) {
            throw new IllegalStateException("out of memory in a 1 MiB page heap");
        }
        if (out[0] == slots.get(1 - slot)) {
            throw new IllegalStateException("0x" + Long.toHexString(out[0]) + " handed out twice");
        }
        if (slots.compareAndSet(slot, 0, out[0])) {
            return true;
        }
        central.give(out, 0, 1);
        return false;
    }

    @Operation
    public boolean give(@Param(name = "slot") int slot) {
        long object = slots.getAndSet(slot, 0);
        if (object == 0) {
            return false;
        }
        central.give(new long[] {object}, 0, 1);
        return true;
    }

    @Validate
    public void everyObjectIsAccountedFor() {
        central.verify();
        long[] census = central.census();
        long held = (slots.get(0) != 0 ? 1 : 0) + (slots.get(1) != 0 ? 1 : 0);
        long objects = census[0] * SizeClasses.OBJECTS[SIZE_CLASS];
        if (objects != census[1] + central.transferred() + held) {
            throw new IllegalStateException(String.format("%d spans of %d objects, %d in spans, %d transferred, %d held",
                    census[0], SizeClasses.OBJECTS[SIZE_CLASS], census[1], central.transferred(), held));
        }
    }

    /** The sequential specification: two slots, each empty or holding an object. */
    public static class Slots {
        private final boolean[] full = new boolean[2];

        public boolean take(int slot) {
            if (full[slot]) {
                return false;
            }
            full[slot] = true;
            return true;
        }

        public boolean give(int slot) {
            boolean was = full[slot];
            full[slot] = false;
            return was;
        }
    }

    @Test
    void handOffsAreLinearizableAndEveryObjectIsAccountedFor() {
        LincheckRuns.modelChecking(20, 200).sequentialSpecification(Slots.class).check(getClass());
    }
}
