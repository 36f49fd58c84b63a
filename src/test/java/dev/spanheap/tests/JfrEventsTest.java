package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingStream;
import org.junit.jupiter.api.Test;

/**
 * Spanheap's JFR events, as a recording sees them with no code from the user beyond enabling them:
 * sampled allocations with their stacks, periodic heap statistics, and scavenger cycles.
 */
class JfrEventsTest {

    private static final long WAIT_SECONDS = 60;

    private static long jfrSite(Spanheap heap) {
        return heap.malloc(4000);
    }

    @Test
    void aRecordingSeesSampledAllocationsStatisticsAndScavengerCycles() throws Exception {
        String name = "jfr-events-test";
        try (RecordingStream recording = new RecordingStream();
             Spanheap heap = Spanheap.builder().profileRate(1).jmxName(name).build()) {
            recording.enable("dev.spanheap.AllocationSample").withStackTrace();
            recording.enable("dev.spanheap.HeapStatistics").withPeriod(Duration.ofMillis(100));
            recording.enable("dev.spanheap.ScavengerCycle");
            CompletableFuture<RecordedEvent> sample = new CompletableFuture<>();
            CompletableFuture<RecordedEvent> statistics = new CompletableFuture<>();
            CompletableFuture<RecordedEvent> release = new CompletableFuture<>();
            MemStats[] settled = new MemStats[1];
            recording.onEvent("dev.spanheap.AllocationSample", event -> {
                if (name.equals(event.getString("heap")) && event.getLong("size") == 4000) {
                    sample.complete(event);
                }
            });
            recording.onEvent("dev.spanheap.HeapStatistics", event -> {
                MemStats expected;
                synchronized (settled) {
                    expected = settled[0];
                }
                if (name.equals(event.getString("heap")) && expected != null
                        && event.getLong("heapAlloc") == expected.heapAlloc()) {
                    statistics.complete(event);
                }
            });
            recording.onEvent("dev.spanheap.ScavengerCycle", event -> {
                if (name.equals(event.getString("heap")) && event.getLong("released") > 0) {
                    release.complete(event);
                }
            });
            recording.startAsync();

            long block = jfrSite(heap);
            RecordedEvent sampled = sample.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(sampled.getLong("blockSize")).isEqualTo(heap.usableSize(block));
            assertThat(sampled.getInt("sizeClass")).isPositive();
            assertThat(sampled.getDouble("weight")).isEqualTo(1.0);
            List<String> methods = new ArrayList<>();
            for (RecordedFrame frame : sampled.getStackTrace().getFrames()) {
                methods.add(frame.getMethod().getType().getName() + "." + frame.getMethod().getName());
            }
            assertThat(methods).contains(JfrEventsTest.class.getName() + ".jfrSite");

            MemStats now = heap.memStats();
            synchronized (settled) {
                settled[0] = now;
            }
            RecordedEvent stats = statistics.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(stats.getLong("heapObjects")).isEqualTo(now.heapObjects());
            assertThat(stats.getLong("mallocs")).isEqualTo(now.mallocs());
            assertThat(stats.getLong("heapSys")).isEqualTo(stats.getLong("heapInuse") + stats.getLong("heapIdle"));

            // A burst of 64 MiB, freed: the background scavenger gives the pages back, cycle by cycle.
            long[] burst = new long[64];
            for (int i = 0; i < burst.length; i++) {
                burst[i] = heap.malloc(1 << 20);
                java.lang.foreign.MemorySegment.ofAddress(burst[i]).reinterpret(1 << 20).fill((byte) 1);
            }
            for (long address : burst) {
                heap.free(address);
            }
            RecordedEvent cycle = release.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertThat(cycle.getLong("released")).isPositive().isLessThanOrEqualTo(64L << 20);
            assertThat(cycle.getDuration().isNegative()).isFalse();
            assertThat(cycle.getLong("goal")).isNotNegative();
            heap.free(block);
        }
    }
}
