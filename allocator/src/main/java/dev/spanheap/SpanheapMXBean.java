package dev.spanheap;

import java.io.IOException;

/**
 * The management interface of a {@link Spanheap} built with {@link Spanheap.Builder#jmxName}: registered
 * with the platform MBean server as {@code dev.spanheap:type=Spanheap,name=<jmxName>} and
 * unregistered when the heap closes. The attributes are the fields of {@link MemStats} (each read
 * takes a fresh snapshot) and the profile rate; the operations release memory, write a heap profile
 * and report the blocks in use.
 */
public interface SpanheapMXBean {

    /** The heap's name: its {@code jmxName}. */
    String getName();

    /** {@link MemStats#sys()}. */
    long getSys();

    /** {@link MemStats#heapSys()}. */
    long getHeapSys();

    /** {@link MemStats#heapAlloc()}. */
    long getHeapAlloc();

    /** {@link MemStats#heapInuse()}. */
    long getHeapInuse();

    /** {@link MemStats#heapIdle()}. */
    long getHeapIdle();

    /** {@link MemStats#heapReleased()}. */
    long getHeapReleased();

    /** {@link MemStats#heapObjects()}. */
    long getHeapObjects();

    /** {@link MemStats#mallocs()}. */
    long getMallocs();

    /** {@link MemStats#frees()}. */
    long getFrees();

    /** {@link MemStats#totalAlloc()}. */
    long getTotalAlloc();

    /** {@link MemStats#spanMetadata()}. */
    long getSpanMetadata();

    /** {@link MemStats#cacheMetadata()}. */
    long getCacheMetadata();

    /** {@link MemStats#cachedBytes()}. */
    long getCachedBytes();

    /** Bytes per heap-profile sample; 0 when profiling is off. */
    long getProfileRate();

    /** {@link Spanheap#releaseMemory()}: returns the bytes released. */
    long releaseMemory();

    /** {@link Spanheap#writeHeapProfile} to {@code path} (created or replaced). */
    void writeHeapProfile(String path) throws IOException;

    /** {@link Spanheap#leakReport()}. */
    String leakReport();
}
