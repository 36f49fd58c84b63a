package dev.spanheap.internal;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** A JFR event per scavenger cycle: what it found, what it gave back, and (as the event's duration) how long it took. */
@Name("dev.spanheap.ScavengerCycle")
@Label("Spanheap Scavenger Cycle")
@Category("Spanheap")
@Description("One cycle of the scavenger, which gives the physical memory of free pages back to the OS")
@StackTrace(false)
final class ScavengerCycleEvent extends jdk.jfr.Event {

    @Label("Heap")
    String heap;

    @Label("Released")
    @Description("Bytes whose physical memory this cycle gave back to the OS")
    @DataAmount
    long released;

    @Label("Retained")
    @Description("Committed bytes not released, after the cycle")
    @DataAmount
    long retained;

    @Label("Goal")
    @Description("What the scavenger brings retained memory down to: retainPercent (default 103%) of the recent peak in use, at most maxRetainPercent (default 110%) of what is in use now, or under the soft limit")
    @DataAmount
    long goal;

    @Label("In Use")
    @DataAmount
    long inUse;
}
