package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import org.junit.jupiter.api.Test;

/**
 * A segment of a heap-backed arena that is never closed stays safe to use after its heap has been
 * closed and dropped: the heap took its memory back, so it reads zero, but the memory stays mapped
 * while the arena's scope is alive. It used to be unmapped once the heap was unreachable, and the
 * access crashed the JVM with SIGSEGV.
 */
class ArenaOutlivesHeapTest {

    @Test
    void aSegmentOfAnArenaNeverClosedOutlivesItsClosedHeap() throws IOException, InterruptedException {
        String output = ChildJvm.run(ArenaOutlivesHeapProbe.class, "-Xmx64m");
        assertThat(ChildJvm.lastLine(output)).isEqualTo("read 0, then 5");
    }
}
