package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.BitSet;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link PageBits} against {@link BitSet}: ranges across word boundaries, searches both ways, growth. */
class PageBitsTest {

    @Test
    void rangesAndSearchesAcrossWordBoundaries() {
        PageBits bits = new PageBits();
        bits.ensureCapacity(200);
        bits.setRange(70, 11);
        assertThat(bits.next(0, 200, true)).isEqualTo(70);
        assertThat(bits.next(75, 200, false)).isEqualTo(81);
        assertThat(bits.next(81, 200, true)).as("none set past 80").isEqualTo(200);
        assertThat(bits.next(70, 75, false)).as("none clear in [70, 75)").isEqualTo(75);
        assertThat(bits.countRange(0, 200)).isEqualTo(11);
        assertThat(bits.countRange(64, 10)).isEqualTo(4);

        bits.setRange(60, 70);
        assertThat(bits.countRange(0, 200)).isEqualTo(70);
        assertThat(bits.next(0, 200, true)).isEqualTo(60);
        assertThat(bits.next(60, 200, false)).isEqualTo(130);
        bits.clearRange(63, 2);
        assertThat(bits.get(62)).isTrue();
        assertThat(bits.get(63)).isFalse();
        assertThat(bits.get(64)).isFalse();
        assertThat(bits.get(65)).isTrue();
        assertThat(bits.next(60, 200, false)).isEqualTo(63);
        assertThat(bits.next(63, 200, true)).isEqualTo(65);
        assertThat(bits.last(0, 200, false)).isEqualTo(199);
        assertThat(bits.last(0, 130, false)).as("the last clear page before the set run").isEqualTo(64);
        assertThat(bits.last(65, 130, false)).as("none clear in [65, 130)").isEqualTo(64);
        assertThat(bits.last(0, 63, true)).isEqualTo(62);
        assertThat(bits.last(0, 60, true)).as("none set below 60").isEqualTo(-1);
    }

    @Test
    void aSearchOfAnEmptyRangeAtTheEndOfTheBitsFindsItsEnd() {
        PageBits bits = new PageBits();
        bits.ensureCapacity(128);
        assertThat(bits.next(128, 128, false)).isEqualTo(128);
        assertThat(bits.next(128, 128, true)).isEqualTo(128);
        assertThat(bits.countRange(128, 0)).isZero();
    }

    @Test
    void newPagesStartClearAndOldOnesKeepTheirBits() {
        PageBits bits = new PageBits();
        bits.ensureCapacity(10);
        bits.setRange(0, 10);
        bits.ensureCapacity(1000);
        assertThat(bits.countRange(0, 1000)).isEqualTo(10);
        assertThat(bits.next(10, 1000, true)).isEqualTo(1000);
        bits.set(999);
        assertThat(bits.get(999)).isTrue();
        bits.ensureCapacity(5);
        assertThat(bits.get(999)).as("shrinking is not asked of it").isTrue();
    }

    /** Random ranges set and cleared, with every search and count compared with a BitSet's (seeded). */
    @Test
    void agreesWithABitSet() {
        for (long seed = 1; seed <= 20; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            int pages = 1 + random.nextInt(700);
            PageBits bits = new PageBits();
            bits.ensureCapacity(pages);
            BitSet model = new BitSet(pages);
            for (int step = 0; step < 200; step++) {
                int from = random.nextInt(pages + 1);
                int count = random.nextInt(pages - from + 1);
                switch (random.nextInt(4)) {
                    case 0 -> {
                        bits.setRange(from, count);
                        model.set(from, from + count);
                    }
                    case 1 -> {
                        bits.clearRange(from, count);
                        model.clear(from, from + count);
                    }
                    case 2 -> assertThat(bits.countRange(from, count)).as("seed %d step %d", seed, step)
                            .isEqualTo(model.get(from, from + count).cardinality());
                    default -> {
                        int end = from + count;
                        int set = model.nextSetBit(from);
                        int clear = model.nextClearBit(from);
                        assertThat(bits.next(from, end, true)).as("seed %d step %d", seed, step)
                                .isEqualTo(set < 0 || set >= end ? end : set);
                        assertThat(bits.next(from, end, false)).as("seed %d step %d", seed, step)
                                .isEqualTo(Math.min(clear, end));
                        int lastSet = model.previousSetBit(end - 1);
                        int lastClear = model.previousClearBit(end - 1);
                        assertThat(bits.last(from, end, true)).as("seed %d step %d: last set", seed, step)
                                .isEqualTo(lastSet >= from ? lastSet : from - 1);
                        assertThat(bits.last(from, end, false)).as("seed %d step %d: last clear", seed, step)
                                .isEqualTo(lastClear >= from ? lastClear : from - 1);
                    }
                }
            }
            for (int page = 0; page < pages; page++) {
                assertThat(bits.get(page)).as("seed %d page %d", seed, page).isEqualTo(model.get(page));
            }
        }
    }
}
