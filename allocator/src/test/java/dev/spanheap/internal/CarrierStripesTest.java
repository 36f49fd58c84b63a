package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashSet;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class CarrierStripesTest {

    /** Native thread handles as glibc's look: thread control blocks 1 MiB and a page apart. */
    private static long carrier(int i) {
        return 0x7f0000000000L + i * 0x101000L + 0x6c0;
    }

    @Test
    void eachCarrierHasAStripeOfItsOwnWhileThereAreEnough() {
        CarrierStripes stripes = new CarrierStripes(8);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 8; i++) {
            seen.add(stripes.of(carrier(i)));
        }
        assertThat(seen).hasSize(8);
        for (int i = 0; i < 8; i++) {
            assertThat(stripes.of(carrier(i))).as("asked again").isEqualTo(stripes.of(carrier(i)));
        }
    }

    /**
     * Any carriers, as many as there are stripes, get one each: a carrier whose home stripe is taken
     * looks at every other one, the last included (seeded random carrier values).
     */
    @Test
    void anySetOfCarriersAsManyAsTheStripesGetsOneEach() {
        SplittableRandom random = new SplittableRandom(42);
        for (int stripeCount : new int[] {2, 4, 8}) {
            for (int round = 0; round < 100; round++) {
                CarrierStripes stripes = new CarrierStripes(stripeCount);
                Set<Long> carriers = new HashSet<>();
                while (carriers.size() < stripeCount) {
                    carriers.add(random.nextLong(1, Long.MAX_VALUE));
                }
                Set<Integer> seen = new HashSet<>();
                carriers.forEach(carrier -> seen.add(stripes.of(carrier)));
                assertThat(seen).as("%d stripes, carriers %s", stripeCount, carriers).hasSize(stripeCount);
            }
        }
    }

    @Test
    void carriersPastTheStripesShareOne() {
        CarrierStripes stripes = new CarrierStripes(4);
        for (int i = 0; i < 4; i++) {
            stripes.of(carrier(i));
        }
        int shared = stripes.of(carrier(4));
        assertThat(shared).isBetween(0, 3);
        assertThat(stripes.of(carrier(4))).isEqualTo(shared);
    }

    @Test
    void twoPlatformThreadsAreTwoCarriers() throws InterruptedException {
        CarrierStripes stripes = new CarrierStripes(8);
        AtomicInteger other = new AtomicInteger(-1);
        Thread thread = Thread.ofPlatform().start(() -> other.set(stripes.current()));
        thread.join();
        assertThat(stripes.current()).isNotEqualTo(other.get()).isEqualTo(stripes.current());
    }
}
