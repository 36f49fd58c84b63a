package dev.spanheap;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;

/** Waits on test threads with a bound, so that a stuck thread fails its test instead of hanging it. */
public final class TestThreads {

    /** How long a test waits for a thread it started. */
    public static final Duration BOUND = Duration.ofSeconds(60);

    private TestThreads() {
    }

    /** Joins each thread within {@link #BOUND}; fails the test if one is still running. */
    public static void join(Thread... threads) throws InterruptedException {
        for (Thread thread : threads) {
            assertThat(thread.join(BOUND)).as("%s finished within %s", thread, BOUND).isTrue();
        }
    }
}
