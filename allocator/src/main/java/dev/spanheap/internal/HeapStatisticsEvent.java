package dev.spanheap.internal;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;

/** A periodic JFR event per open heap with its {@code MemStats} fields (see there for their meaning). */
@Name("dev.spanheap.HeapStatistics")
@Label("Spanheap Heap Statistics")
@Category("Spanheap")
@Description("What a Spanheap holds, with the fields of Go's runtime.MemStats")
@Period("1 s")
@StackTrace(false)
final class HeapStatisticsEvent extends jdk.jfr.Event {

    @Label("Heap")
    String heap;

    @Label("Sys")
    @DataAmount
    long sys;

    @Label("Heap Sys")
    @DataAmount
    long heapSys;

    @Label("Heap Alloc")
    @DataAmount
    long heapAlloc;

    @Label("Heap In Use")
    @DataAmount
    long heapInuse;

    @Label("Heap Idle")
    @DataAmount
    long heapIdle;

    @Label("Heap Released")
    @DataAmount
    long heapReleased;

    @Label("Heap Objects")
    long heapObjects;

    @Label("Mallocs")
    long mallocs;

    @Label("Frees")
    long frees;

    @Label("Total Alloc")
    @DataAmount
    long totalAlloc;

    @Label("Span Metadata")
    @DataAmount
    long spanMetadata;

    @Label("Cache Metadata")
    @DataAmount
    long cacheMetadata;

    @Label("Cached Bytes")
    @DataAmount
    long cachedBytes;
}
