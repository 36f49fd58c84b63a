/**
 * Spanheap's own property-test harness: small, seeded, shrinking, and run by JUnit 5.
 *
 * <h2>How it works</h2>
 * A generator ({@link dev.spanheap.proptest.Gen}) builds a value from a stream of choices
 * ({@link dev.spanheap.proptest.Choices}): every random decision it makes is one call
 * {@code draw(bound)} returning a number in {@code [0, bound)}. The stream is recorded, so a
 * failing input is fully described by its choices, and it is replayed by feeding them back. This is
 * the design of Hypothesis's "internal shrinking": instead of a shrinker per type, the
 * {@link dev.spanheap.proptest.Shrinker} edits the recorded choices (drops runs of them, zeroes
 * them, lowers each one) and keeps any edit under which the property still fails the same way.
 * Generators are written so that smaller choices mean simpler values (0 is the first option, the
 * lowest number, the end of a list), so shorter and smaller choice streams are simpler inputs, and a
 * failing sequence of operations shrinks to a few steps with the smallest sizes that still fail.
 *
 * <h2>Use</h2>
 * <pre>{@code
 * @Test
 * void sumOfSmallNumbersStaysSmall() {
 *     Property.forAll(Gen.lists(Gen.ints(0, 100), 0, 20))
 *             .tries(200)
 *             .check(list -> assertThat(list.stream().mapToInt(i -> i).sum()).isLessThan(1000));
 * }
 * }</pre>
 * A failure throws an {@code AssertionFailedError} that JUnit reports, naming the seed of the
 * failing try, the shrunk input, the original failure (as the cause) and the one-line command that
 * reruns exactly that try.
 *
 * <h2>Settings (system properties)</h2>
 * <ul>
 *   <li>{@code proptest.seed}: the seed of the first try (default: a new random seed per run, printed
 *       on failure). With it, the first try replays the failure it was printed for.</li>
 *   <li>{@code proptest.scale}: multiplies every property's number of tries (default 1; the nightly
 *       command uses 20).</li>
 * </ul>
 */
package dev.spanheap.proptest;
