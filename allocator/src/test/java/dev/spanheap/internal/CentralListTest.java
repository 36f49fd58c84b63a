package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * One size class's {@link CentralList} on one thread, against a model of the objects handed out:
 * random batches taken and given back (seeded), enough to fill the transfer stack, so that spans
 * join and leave the partial list anywhere in it, are cut and go back to the page heap. After every
 * step the list verifies (its links both ways among them) and accounts for every object.
 */
class CentralListTest {

    /** 2 KiB objects, four to a one-page span; the transfer stack holds 128 of them. */
    private static final int SIZE_CLASS = SizeClassLookup.sizeClassOf(2048);
    private static final int PER_SPAN = SizeClasses.OBJECTS[SIZE_CLASS];

    private final PageHeap pageHeap = new PageHeap(LinuxOsMemory.INSTANCE, 64L << 20, 16);
    private final CentralList central = new CentralList(SIZE_CLASS, pageHeap, new FreeMarks(pageHeap));

    @AfterEach
    void close() {
        pageHeap.close();
    }

    @Test
    void takesAndGivesBackInAnyOrderAccountingForEveryObject() {
        assertThat(PER_SPAN).isEqualTo(4);
        List<Long> out = new ArrayList<>();
        Set<Long> handedOut = new HashSet<>();
        SplittableRandom random = new SplittableRandom(2048);
        long[] batch = new long[32];
        for (int step = 0; step < 4000; step++) {
            // Drift towards many objects out, then towards none, so that both ends are reached.
            boolean filling = (step / 500) % 2 == 0;
            if (out.isEmpty() || random.nextInt(10) < (filling ? 6 : 4)) {
                int wanted = 1 + random.nextInt(batch.length);
                int got = central.take(batch, 0, wanted);
                assertThat(got).as("step %d", step).isBetween(1, wanted);
                for (int i = 0; i < got; i++) {
                    assertThat(handedOut.add(batch[i])).as("step %d: 0x%x handed out twice", step, batch[i]).isTrue();
                    out.add(batch[i]);
                }
            } else {
                int count = 1 + random.nextInt(Math.min(out.size(), batch.length));
                for (int i = 0; i < count; i++) {
                    long object = out.remove(random.nextInt(out.size()));
                    handedOut.remove(object);
                    batch[i] = object;
                }
                central.give(batch, 0, count);
            }
            central.verify();
            long[] census = central.census();
            assertThat(census[0] * PER_SPAN).as("step %d: every object of every span is somewhere", step)
                    .isEqualTo(census[1] + central.transferred() + out.size());
        }
        central.give(out.stream().mapToLong(Long::longValue).toArray(), 0, out.size());
        central.releaseIdle();
        central.verify();
        assertThat(central.census()[0]).as("every span back in the page heap").isZero();
        assertThat(pageHeap.counts().inUse()).as("the page heap's pages all free").isZero();
        assertThat(central.transferred()).isZero();
    }
}
