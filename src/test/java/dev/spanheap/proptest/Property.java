package dev.spanheap.proptest;

import java.util.Optional;
import java.util.SplittableRandom;
import org.junit.platform.commons.annotation.Testable;
import org.junit.platform.commons.support.AnnotationSupport;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

/**
 * A property: a body that must hold for every value of a generator. {@link #check} runs it on
 * {@link #tries} random values and, at the first failure, shrinks the input and throws an
 * {@link AssertionFailedError} with the seed, the shrunk input and the command that reruns it.
 * See package-info for the settings and the design.
 */
public final class Property<T> {

    /** The body of a property: throws (an assertion, any exception) when the property fails. */
    @FunctionalInterface
    public interface Body<T> {
        void accept(T value) throws Exception;
    }

    private static final int DEFAULT_TRIES = 100;
    private static final int SHRINK_BUDGET = 10_000;

    private final Gen<T> gen;
    private int tries = DEFAULT_TRIES;
    private Long seed;

    private Property(Gen<T> gen) {
        this.gen = gen;
    }

    public static <T> Property<T> forAll(Gen<T> gen) {
        return new Property<>(gen);
    }

    /** The tries of one ordinary run; {@code proptest.scale} multiplies it. */
    public Property<T> tries(int count) {
        if (count <= 0) {
            throw new IllegalArgumentException("tries must be positive: " + count);
        }
        this.tries = count;
        return this;
    }

    /** Fixes the seed of the first try (otherwise {@code proptest.seed}, or random). */
    public Property<T> seed(long value) {
        this.seed = value;
        return this;
    }

    /** The number of tries this run makes: {@link #tries} times {@code proptest.scale}. */
    public int effectiveTries() {
        return Math.multiplyExact(tries, Integer.getInteger("proptest.scale", 1));
    }

    /** Runs the property; returns how many tries ran (all passed). */
    public int check(Body<? super T> body) {
        String test = callingTest();
        long first = seed != null ? seed : Optional.ofNullable(Long.getLong("proptest.seed"))
                .orElseGet(() -> new SplittableRandom().nextLong());
        SplittableRandom seeds = new SplittableRandom(first);
        int count = effectiveTries();
        for (int i = 0; i < count; i++) {
            long trySeed = i == 0 ? first : seeds.nextLong();
            Shrinker.Outcome outcome = run(body, Choices.random(trySeed));
            if (outcome.failure() != null) {
                Shrinker shrinker = new Shrinker(choices -> run(body, Choices.replay(choices)), outcome, SHRINK_BUDGET)
                        .shrink();
                throw failure(test, i + 1, trySeed, outcome, shrinker);
            }
        }
        return count;
    }

    private Shrinker.Outcome run(Body<? super T> body, Choices choices) {
        T value;
        try {
            value = gen.generate(choices);
        } catch (Choices.TooManyDraws e) {
            return new Shrinker.Outcome(choices.recorded(), choices.elements(), null);
        }
        long[] drawn = choices.recorded();
        int[] elements = choices.elements();
        try {
            body.accept(value);
            return new Shrinker.Outcome(drawn, elements, null);
        } catch (TestAbortedException assumptionFailed) {
            return new Shrinker.Outcome(drawn, elements, null);
        } catch (Throwable failure) {
            return new Shrinker.Outcome(drawn, elements, failure);
        }
    }

    private AssertionFailedError failure(String test, int tryNumber, long trySeed, Shrinker.Outcome original,
                                         Shrinker shrinker) {
        T shrunk = gen.generate(Choices.replay(shrinker.best()));
        String message = String.format(
                "property failed on try %d (seed %d)%n"
                        + "smallest failing input (shrunk from %d to %d choices, %d edits in %d runs):%n  %s%n"
                        + "rerun that try: mvn -B verify -pl src/test -am -Dsurefire.failIfNoSpecifiedTests=false"
                        + " -Dtest='%s' -Dproptest.seed=%d%n"
                        + "its failure: %s%n"
                        + "the failure before shrinking: %s",
                tryNumber, trySeed, original.drawn().length, shrinker.best().length, shrinker.accepted(),
                shrinker.runs(), shrunk, test, trySeed, shrinker.bestFailure(), original.failure());
        return new AssertionFailedError(message, shrinker.bestFailure());
    }

    /** {@code Class#method} of the test that called {@link #check}, for the rerun command. */
    private static String callingTest() {
        return StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE).walk(frames -> frames
                .filter(Property::isTestMethod)
                .findFirst()
                .map(frame -> simpleName(frame.getClassName()) + "#" + frame.getMethodName())
                .orElse("?"));
    }

    /** Whether the frame runs a JUnit test method ({@code @Test}, {@code @ParameterizedTest}...). */
    private static boolean isTestMethod(StackWalker.StackFrame frame) {
        for (java.lang.reflect.Method method : frame.getDeclaringClass().getDeclaredMethods()) {
            if (method.getName().equals(frame.getMethodName())
                    && AnnotationSupport.isAnnotated(method, Testable.class)) {
                return true;
            }
        }
        return false;
    }

    private static String simpleName(String className) {
        String outer = className.contains("$") ? className.substring(0, className.indexOf('$')) : className;
        return outer.substring(outer.lastIndexOf('.') + 1);
    }
}
