package dev.spanheap.internal;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A JFR event for each allocation the heap profiler samples, with the allocating stack. */
@Name("dev.spanheap.AllocationSample")
@Label("Spanheap Allocation Sample")
@Category("Spanheap")
@Description("An allocation sampled for the heap profile, on average one per profileRate bytes allocated")
@StackTrace(true)
final class AllocationSampleEvent extends jdk.jfr.Event {

    @Label("Heap")
    String heap;

    @Label("Requested Size")
    @DataAmount
    long size;

    @Label("Block Size")
    @Description("The bytes the block counts as: its size class's size, or its whole pages")
    @DataAmount
    long blockSize;

    @Label("Size Class")
    @Description("The block's size class, 0 for a block of whole pages")
    int sizeClass;

    @Label("Weight")
    @Description("How many allocations like this one the sample stands for")
    double weight;
}
