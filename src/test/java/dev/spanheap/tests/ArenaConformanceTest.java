package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.Spanheap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The heap-backed arenas against the JDK's own: every scenario runs once on {@code Arena.ofConfined()}
 * (or {@code ofShared()}) and once on the matching Spanheap arena, and must give the same outcome,
 * written as text: the values read back, or the exception's type and message.
 */
class ArenaConformanceTest {

    private static Spanheap heap;
    private static ExecutorService otherThread;

    @BeforeAll
    static void openHeap() {
        heap = Spanheap.builder().scavenger(false).build();
        otherThread = Executors.newSingleThreadExecutor();
    }

    @AfterAll
    static void closeHeap() {
        otherThread.shutdownNow();
        heap.close();
    }

    /** A scenario: what it does with a fresh arena, returning its outcome as text. */
    record Scenario(String name, Function<Arena, String> run) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Arguments> confinedScenarios() {
        return Stream.concat(commonScenarios(), Stream.of(
                new Scenario("allocate on another thread", arena -> onOtherThread(() -> arena.allocate(8))),
                new Scenario("access on another thread", arena -> {
                    MemorySegment segment = arena.allocate(8);
                    return onOtherThread(() -> segment.get(ValueLayout.JAVA_LONG, 0));
                }),
                new Scenario("close on another thread, then use", arena -> {
                    MemorySegment segment = arena.allocate(8);
                    String close = onOtherThread(() -> {
                        arena.close();
                        return "closed";
                    });
                    segment.set(ValueLayout.JAVA_LONG, 0, 7);
                    return close + " / still alive: " + arena.scope().isAlive() + " " + segment.get(ValueLayout.JAVA_LONG, 0);
                })))
                .map(s -> Arguments.of(s, (Supplier<Arena>) Arena::ofConfined, (Supplier<Arena>) heap::newConfinedArena));
    }

    static Stream<Arguments> sharedScenarios() {
        return Stream.concat(commonScenarios(), Stream.of(
                new Scenario("allocate and write on another thread", arena -> onOtherThread(() -> {
                    MemorySegment segment = arena.allocate(ValueLayout.JAVA_INT, 4);
                    segment.setAtIndex(ValueLayout.JAVA_INT, 3, 9);
                    return segment.getAtIndex(ValueLayout.JAVA_INT, 3);
                })),
                new Scenario("close on another thread, then access", arena -> {
                    MemorySegment segment = arena.allocate(8);
                    String close = onOtherThread(() -> {
                        arena.close();
                        return "closed";
                    });
                    return close + " / " + outcome(() -> segment.get(ValueLayout.JAVA_LONG, 0));
                })))
                .map(s -> Arguments.of(s, (Supplier<Arena>) Arena::ofShared, (Supplier<Arena>) heap::newSharedArena));
    }

    /** Scenarios whose outcome does not depend on the arena's kind. */
    private static Stream<Scenario> commonScenarios() {
        List<Scenario> scenarios = new ArrayList<>();
        long[] sizes = {0, 1, 3, 8, 15, 16, 100, 256, 4095, 4096, 8193, 32768, 65536, 1 << 20, 3 << 20};
        long[] alignments = {1, 2, 8, 16, 64, 4096, 1 << 16, 1 << 21};
        for (long size : sizes) {
            for (long alignment : alignments) {
                scenarios.add(new Scenario("allocate " + size + " aligned " + alignment, arena -> {
                    MemorySegment segment = arena.allocate(size, alignment);
                    return "size " + segment.byteSize() + ", aligned " + (segment.address() % alignment == 0)
                            + ", zero " + isZero(segment) + ", native " + segment.isNative()
                            + ", same scope " + segment.scope().equals(arena.scope());
                }));
            }
        }
        scenarios.add(new Scenario("many segments, each zeroed and distinct", arena -> {
            List<MemorySegment> segments = new ArrayList<>();
            StringBuilder outcome = new StringBuilder();
            for (int i = 0; i < 300; i++) {
                MemorySegment segment = arena.allocate(1 + (i * 37) % 700, 1L << (i % 7));
                outcome.append(isZero(segment) ? 'z' : 'N');
                segment.fill((byte) i);
                segments.add(segment);
            }
            for (int i = 0; i < segments.size(); i++) {
                MemorySegment segment = segments.get(i);
                long expected = segment.byteSize() * (byte) i;
                long sum = 0;
                for (long b = 0; b < segment.byteSize(); b++) {
                    sum += segment.get(ValueLayout.JAVA_BYTE, b);
                }
                outcome.append(sum == expected ? '.' : 'X');
            }
            return outcome.toString();
        }));
        scenarios.add(new Scenario("negative size", arena -> outcome(() -> arena.allocate(-1, 8))));
        scenarios.add(new Scenario("negative size, bad alignment", arena -> outcome(() -> arena.allocate(-5, 3))));
        for (long alignment : new long[] {0, 3, -8, 6, Long.MIN_VALUE, Long.MAX_VALUE}) {
            scenarios.add(new Scenario("alignment " + alignment, arena -> outcome(() -> arena.allocate(16, alignment))));
        }
        scenarios.add(new Scenario("size beyond any memory", arena -> outcomeType(() -> arena.allocate(Long.MAX_VALUE, 8))));
        scenarios.add(new Scenario("allocateFrom string", arena -> arena.allocateFrom("héllo, arena").getString(0)));
        scenarios.add(new Scenario("allocateFrom ints", arena -> {
            MemorySegment segment = arena.allocateFrom(ValueLayout.JAVA_INT, 1, -2, 3, Integer.MAX_VALUE);
            return segment.byteSize() + " " + java.util.Arrays.toString(segment.toArray(ValueLayout.JAVA_INT));
        }));
        scenarios.add(new Scenario("allocateFrom long and double", arena -> arena.allocateFrom(ValueLayout.JAVA_LONG, 42L)
                .get(ValueLayout.JAVA_LONG, 0) + " " + arena.allocateFrom(ValueLayout.JAVA_DOUBLE, 2.5).get(ValueLayout.JAVA_DOUBLE, 0)));
        scenarios.add(new Scenario("allocateFrom segment copy", arena -> {
            MemorySegment source = MemorySegment.ofArray(new byte[] {1, 2, 3, 4, 5});
            MemorySegment copy = arena.allocateFrom(ValueLayout.JAVA_BYTE, source, ValueLayout.JAVA_BYTE, 1, 3);
            return java.util.Arrays.toString(copy.toArray(ValueLayout.JAVA_BYTE));
        }));
        scenarios.add(new Scenario("allocate struct layout", arena -> {
            MemoryLayout point = MemoryLayout.structLayout(ValueLayout.JAVA_INT.withName("x"), ValueLayout.JAVA_INT.withName("y"),
                    ValueLayout.JAVA_DOUBLE.withName("weight"));
            MemorySegment segment = arena.allocate(point);
            return segment.byteSize() + " aligned " + (segment.address() % point.byteAlignment() == 0) + " zero " + isZero(segment);
        }));
        scenarios.add(new Scenario("allocate array of layout", arena -> {
            MemorySegment segment = arena.allocate(ValueLayout.JAVA_SHORT, 33);
            return segment.byteSize() + " " + isZero(segment);
        }));
        scenarios.add(new Scenario("access after close", arena -> {
            MemorySegment segment = arena.allocate(64);
            arena.close();
            return outcome(() -> segment.get(ValueLayout.JAVA_BYTE, 0)) + " / " + outcomeOfRun(() -> segment.fill((byte) 1))
                    + " / alive " + segment.scope().isAlive();
        }));
        scenarios.add(new Scenario("large segment access after close", arena -> {
            MemorySegment segment = arena.allocate(1 << 20);
            arena.close();
            return outcomeOfRun(() -> segment.set(ValueLayout.JAVA_INT, 4096, 1));
        }));
        scenarios.add(new Scenario("allocate after close", arena -> {
            arena.close();
            return outcome(() -> arena.allocate(8)) + " / " + outcome(() -> arena.allocate(-1)) + " / "
                    + outcome(() -> arena.allocate(8, 3));
        }));
        scenarios.add(new Scenario("close twice", arena -> {
            arena.close();
            return outcome(() -> {
                arena.close();
                return "closed again";
            });
        }));
        scenarios.add(new Scenario("scope liveness", arena -> {
            MemorySegment.Scope scope = arena.scope();
            boolean before = scope.isAlive();
            arena.close();
            return before + " " + scope.isAlive() + " " + arena.scope().isAlive();
        }));
        scenarios.add(new Scenario("reinterpret with the arena runs the cleanup at close", arena -> {
            List<Long> cleaned = new ArrayList<>();
            MemorySegment mine = arena.allocate(32);
            MemorySegment view = MemorySegment.ofAddress(mine.address()).reinterpret(16, arena, s -> cleaned.add(s.byteSize()));
            view.set(ValueLayout.JAVA_LONG, 8, 5);
            long read = mine.get(ValueLayout.JAVA_LONG, 8);
            arena.close();
            return read + " " + cleaned + " " + outcome(() -> view.get(ValueLayout.JAVA_LONG, 0));
        }));
        scenarios.add(new Scenario("segment as ByteBuffer, closed with the arena", arena -> {
            var buffer = arena.allocate(16).asByteBuffer();
            buffer.putInt(0, 77);
            int read = buffer.getInt(0);
            arena.close();
            return read + " / " + outcome(() -> buffer.getInt(0));
        }));
        return scenarios.stream();
    }

    @ParameterizedTest(name = "confined: {0}")
    @MethodSource("confinedScenarios")
    void confinedArenaBehavesAsTheJdks(Scenario scenario, Supplier<Arena> jdk, Supplier<Arena> spanheap) {
        assertThat(runOn(spanheap, scenario)).isEqualTo(runOn(jdk, scenario));
    }

    @ParameterizedTest(name = "shared: {0}")
    @MethodSource("sharedScenarios")
    void sharedArenaBehavesAsTheJdks(Scenario scenario, Supplier<Arena> jdk, Supplier<Arena> spanheap) {
        assertThat(runOn(spanheap, scenario)).isEqualTo(runOn(jdk, scenario));
    }

    private static String runOn(Supplier<Arena> arenas, Scenario scenario) {
        Arena arena = arenas.get();
        String outcome = outcome(() -> scenario.run().apply(arena));
        if (arena.scope().isAlive()) {
            arena.close();
        }
        return outcome;
    }

    /** The value, or the exception's type and message. */
    static String outcome(Supplier<?> action) {
        try {
            return String.valueOf(action.get());
        } catch (RuntimeException | Error e) {
            return e.getClass().getName() + ": " + e.getMessage();
        }
    }

    private static String outcomeOfRun(Runnable action) {
        return outcome(() -> {
            action.run();
            return "done";
        });
    }

    /** The exception's type only, where the JDK's message comes from the platform's malloc. */
    private static String outcomeType(Supplier<?> action) {
        try {
            return "returned " + action.get();
        } catch (RuntimeException | Error e) {
            return e.getClass().getName();
        }
    }

    private static String onOtherThread(Supplier<?> action) {
        try {
            return otherThread.submit(() -> outcome(action)).get(1, TimeUnit.MINUTES);
        } catch (InterruptedException | ExecutionException | TimeoutException e) {
            throw new AssertionError(e);
        }
    }

    private static boolean isZero(MemorySegment segment) {
        for (long i = 0; i < segment.byteSize(); i++) {
            if (segment.get(ValueLayout.JAVA_BYTE, i) != 0) {
                return false;
            }
        }
        return true;
    }
}
