package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.Spanheap;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class GlobalHeapTest {

    @Test
    void oneHeapForTheProcessThatCannotBeClosed() throws Exception {
        Spanheap global = Spanheap.global();
        assertThat(CompletableFuture.supplyAsync(Spanheap::global).get(1, TimeUnit.MINUTES)).isSameAs(global);
        MemorySegment segment = global.allocate(128);
        segment.set(ValueLayout.JAVA_LONG, 120, 5);
        assertThatThrownBy(global::close).isInstanceOf(UnsupportedOperationException.class)
                .hasMessage("the global Spanheap cannot be closed");
        assertThat(segment.get(ValueLayout.JAVA_LONG, 120)).as("still open").isEqualTo(5);
        global.free(segment);
        global.verify();
    }
}
