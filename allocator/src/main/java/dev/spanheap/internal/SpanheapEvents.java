package dev.spanheap.internal;

import dev.spanheap.MemStats;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import jdk.jfr.FlightRecorder;
import jdk.jfr.FlightRecorderListener;

/**
 * Spanheap's JFR events, which any recording picks up without code from the user: a sample per
 * profiled allocation ({@link AllocationSampleEvent}), the statistics of every open heap at each
 * period ({@link HeapStatisticsEvent}, through one periodic hook for all heaps), and one event per
 * scavenger cycle ({@link ScavengerCycleEvent}).
 *
 * <p>Nothing of JFR is touched until JFR itself has started ({@link FlightRecorder#isInitialized()},
 * by {@code -XX:StartFlightRecording}, {@code jcmd JFR.start} or a {@code RecordingStream}): the first
 * use of an event class starts JFR's machinery, about 130 ms on this project's machine, which no
 * heap should add to its creation or to a sampled allocation. A listener registers the periodic
 * hook when JFR starts.
 */
final class SpanheapEvents {

    /** Open heaps, for the periodic hook; weak, so that a heap dropped without close is not kept. */
    private static final Set<Heap> OPEN = Collections.synchronizedSet(Collections.newSetFromMap(new WeakHashMap<>()));

    private static final AtomicBoolean PERIODIC_REGISTERED = new AtomicBoolean();

    static {
        FlightRecorder.addListener(new FlightRecorderListener() {
            @Override
            public void recorderInitialized(FlightRecorder recorder) {
                registerPeriodic();
            }
        });
        if (FlightRecorder.isInitialized()) {
            registerPeriodic();
        }
    }

    private static void registerPeriodic() {
        if (PERIODIC_REGISTERED.compareAndSet(false, true)) {
            FlightRecorder.addPeriodicEvent(HeapStatisticsEvent.class, SpanheapEvents::emitStatistics);
        }
    }

    private SpanheapEvents() {
    }

    static void opened(Heap heap) {
        OPEN.add(heap);
    }

    static void closed(Heap heap) {
        OPEN.remove(heap);
    }

    static void allocationSampled(String heap, long size, long blockSize, int sizeClass, double weight) {
        if (!FlightRecorder.isInitialized()) {
            return;
        }
        AllocationSampleEvent event = new AllocationSampleEvent();
        if (event.shouldCommit()) {
            event.heap = heap;
            event.size = size;
            event.blockSize = blockSize;
            event.sizeClass = sizeClass;
            event.weight = weight;
            event.commit();
        }
    }

    /**
     * Starts timing a scavenger cycle, or returns null while JFR has not started;
     * {@link #endScavengerCycle} commits it if a recording wants it.
     */
    static ScavengerCycleEvent beginScavengerCycle() {
        if (!FlightRecorder.isInitialized()) {
            return null;
        }
        ScavengerCycleEvent event = new ScavengerCycleEvent();
        event.begin();
        return event;
    }

    static void endScavengerCycle(ScavengerCycleEvent event, String heap, long released, long retained, long goal,
                                  long inUse) {
        if (event == null) {
            return;
        }
        event.end();
        if (event.shouldCommit()) {
            event.heap = heap;
            event.released = released;
            event.retained = retained;
            event.goal = goal;
            event.inUse = inUse;
            event.commit();
        }
    }

    private static void emitStatistics() {
        List<Heap> heaps;
        synchronized (OPEN) {
            heaps = new ArrayList<>(OPEN);
        }
        for (Heap heap : heaps) {
            MemStats stats;
            try {
                stats = new HeapStatistics(heap).snapshot();
            } catch (IllegalStateException closedMeanwhile) {
                continue;
            }
            HeapStatisticsEvent event = new HeapStatisticsEvent();
            event.heap = heap.name();
            event.sys = stats.sys();
            event.heapSys = stats.heapSys();
            event.heapAlloc = stats.heapAlloc();
            event.heapInuse = stats.heapInuse();
            event.heapIdle = stats.heapIdle();
            event.heapReleased = stats.heapReleased();
            event.heapObjects = stats.heapObjects();
            event.mallocs = stats.mallocs();
            event.frees = stats.frees();
            event.totalAlloc = stats.totalAlloc();
            event.spanMetadata = stats.spanMetadata();
            event.cacheMetadata = stats.cacheMetadata();
            event.cachedBytes = stats.cachedBytes();
            event.commit();
        }
    }
}
