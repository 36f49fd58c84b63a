package dev.spanheap.proptest;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The stream of choices a generator draws from: random for a fresh try, or a recorded stream
 * replayed for shrinking. Each {@link #draw} is recorded either way, so every value a generator
 * produced is described by {@link #recorded()}.
 *
 * <p>Replaying, a choice that is out of the new bound is reduced modulo it, and draws past the end
 * of the stream return 0, the simplest choice: an edited stream always yields some valid value.
 */
public final class Choices {

    /** Beyond this many draws a try is abandoned as too big (a generator that never stops). */
    static final int MAX_DRAWS = 200_000;

    private final SplittableRandom random;
    private final long[] replay;
    private long[] recorded = new long[64];
    private int count;
    /** [start, end) of the choices of each list element drawn so far, as pairs. */
    private int[] elements = new int[32];
    private int elementCount;

    private Choices(SplittableRandom random, long[] replay) {
        this.random = random;
        this.replay = replay;
    }

    /** Fresh random choices from {@code seed}. */
    public static Choices random(long seed) {
        return new Choices(new SplittableRandom(seed), null);
    }

    /** The given choices, then zeros. */
    public static Choices replay(long[] choices) {
        return new Choices(null, choices.clone());
    }

    /** A number in {@code [0, bound)}; {@code bound} must be positive. */
    public long draw(long bound) {
        if (bound <= 0) {
            throw new IllegalArgumentException("bound must be positive: " + bound);
        }
        if (count == MAX_DRAWS) {
            throw new TooManyDraws();
        }
        long value;
        if (replay == null) {
            value = random.nextLong(bound);
        } else if (count < replay.length) {
            long wanted = replay[count];
            value = wanted < bound ? wanted : wanted % bound;
        } else {
            value = 0;
        }
        if (count == recorded.length) {
            recorded = Arrays.copyOf(recorded, count * 2);
        }
        recorded[count++] = value;
        return value;
    }

    /** The choices drawn so far. */
    public long[] recorded() {
        return Arrays.copyOf(recorded, count);
    }

    /** Marks the start of a structural unit (a list element); pass the result to {@link #endElement}. */
    int startElement() {
        return count;
    }

    /**
     * Marks the end of the unit that started at {@code start}, so that the shrinker can delete it
     * whole: an operation of a sequence is several choices, and deleting only some of them would
     * read the rest as a different operation.
     */
    void endElement(int start) {
        if (elementCount == elements.length) {
            elements = Arrays.copyOf(elements, elementCount * 2);
        }
        elements[elementCount++] = start;
        elements[elementCount++] = count;
    }

    /** The [start, end) pairs of every unit marked, flattened. */
    int[] elements() {
        return Arrays.copyOf(elements, elementCount);
    }

    /** Thrown when a try draws more than {@link #MAX_DRAWS} choices; the try is discarded. */
    static final class TooManyDraws extends RuntimeException {
        TooManyDraws() {
            super("a generator drew more than " + MAX_DRAWS + " choices", null, false, false);
        }
    }
}
