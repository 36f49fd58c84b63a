package dev.spanheap.proptest;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;

/**
 * A generator of values from {@link Choices}. Smaller choices must give simpler values, so that the
 * {@link Shrinker}'s edits of the choices simplify the value: every generator here maps choice 0 to
 * its simplest value (the low end of a range, the first alternative, an empty tail of a list).
 */
@FunctionalInterface
public interface Gen<T> {

    T generate(Choices choices);

    default <R> Gen<R> map(Function<? super T, ? extends R> mapper) {
        return choices -> mapper.apply(generate(choices));
    }

    /** A value that depends on a first one. */
    default <R> Gen<R> flatMap(Function<? super T, Gen<R>> next) {
        return choices -> next.apply(generate(choices)).generate(choices);
    }

    static <T> Gen<T> constant(T value) {
        return choices -> value;
    }

    /** Uniform in {@code [min, max]}; shrinks towards {@code min}. */
    static Gen<Long> longs(long min, long max) {
        if (min > max) {
            throw new IllegalArgumentException("empty range [" + min + ", " + max + "]");
        }
        long span = max - min + 1;
        if (span <= 0) {
            // The range holds more than 2^63 values: draw the offset in two halves.
            return choices -> min + (choices.draw(Long.MAX_VALUE) << 1 | choices.draw(2));
        }
        return choices -> min + choices.draw(span);
    }

    /** Uniform in {@code [min, max]}; shrinks towards {@code min}. */
    static Gen<Integer> ints(int min, int max) {
        return longs(min, max).map(Long::intValue);
    }

    static Gen<Boolean> booleans() {
        return choices -> choices.draw(2) == 1;
    }

    /**
     * In {@code [min, max]} (with {@code 0 <= min <= max}), log-uniform: every order of magnitude
     * about as likely as any other, as allocation sizes are. One choice maps monotonically onto the
     * range, so the shrinker's binary search on it finds the smallest value that still fails, exactly.
     */
    static Gen<Long> logUniform(long min, long max) {
        if (min < 0 || min > max) {
            throw new IllegalArgumentException("need 0 <= min <= max: [" + min + ", " + max + "]");
        }
        long steps = 1L << 52;
        double logRange = Math.log1p((double) (max - min));
        return choices -> {
            double fraction = choices.draw(steps + 1) / (double) steps;
            return Math.min(max, min + (long) Math.floor(Math.expm1(fraction * logRange)));
        };
    }

    /** One of {@code values}; shrinks towards the first. */
    @SafeVarargs
    static <T> Gen<T> elements(T... values) {
        List<T> copy = List.of(values);
        return choices -> copy.get((int) choices.draw(copy.size()));
    }

    /** One of the generators, chosen by weight; shrinks towards the first. */
    @SafeVarargs
    static <T> Gen<T> frequency(Weighted<? extends T>... options) {
        long total = 0;
        for (Weighted<? extends T> option : options) {
            total += option.weight();
        }
        long sum = total;
        return choices -> {
            long pick = choices.draw(sum);
            for (Weighted<? extends T> option : options) {
                if (pick < option.weight()) {
                    return option.gen().generate(choices);
                }
                pick -= option.weight();
            }
            throw new AssertionError("unreachable");
        };
    }

    /** A generator and its weight, for {@link #frequency}. */
    record Weighted<T>(int weight, Gen<T> gen) {
        public Weighted {
            if (weight <= 0) {
                throw new IllegalArgumentException("weight must be positive: " + weight);
            }
        }
    }

    static <T> Weighted<T> weighted(int weight, Gen<T> gen) {
        return new Weighted<>(weight, gen);
    }

    /**
     * Lists of {@code min} to {@code max} elements, about halfway on average. Before each element
     * past the {@code min}-th, one choice says whether the list goes on (0 ends it), so the shrinker
     * shortens a list by zeroing that choice; each element with its choice is marked as a unit
     * ({@link Choices#endElement}), which the shrinker drops from the middle of the list whole.
     */
    static <T> Gen<List<T>> lists(Gen<T> element, int min, int max) {
        if (min < 0 || min > max) {
            throw new IllegalArgumentException("need 0 <= min <= max: [" + min + ", " + max + "]");
        }
        long goOn = Math.max(2, (max - min) / 2 + 1);
        return choices -> {
            List<T> list = new ArrayList<>();
            while (true) {
                int start = choices.startElement();
                if (list.size() == max || list.size() >= min && choices.draw(goOn) == 0) {
                    break;
                }
                list.add(element.generate(choices));
                choices.endElement(start);
            }
            return Collections.unmodifiableList(list);
        };
    }
}
