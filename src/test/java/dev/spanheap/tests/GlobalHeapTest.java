package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.Spanheap;
import java.io.IOException;
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

    @Test
    void theGlobalHeapTakesTheDefaultsThatSystemPropertiesSet() throws Exception {
        assertThat(probe()).isEqualTo("profileRate=524288 checked=false");
        assertThat(probe("-Dspanheap.profileRate=0", "-Dspanheap.checked=true"))
                .isEqualTo("profileRate=0 checked=true");
        assertThat(probe("-Dspanheap.profileRate=64k")).isEqualTo(
                "refused: system property spanheap.profileRate must be a number of bytes, 0 or more: \"64k\"");
    }

    @Test
    void aRefusedGlobalHeapIsMadeByTheFirstCallAfterTheCauseIsGone() throws Exception {
        assertThat(probe("-Dspanheap.profileRate=64k", "-Dprobe.fixedProfileRate=65536"))
                .isEqualTo("refused, then made: profileRate=65536 same=true");
    }

    /** What {@link GlobalHeapProbe} prints in a JVM of its own started with {@code options}. */
    private static String probe(String... options) throws IOException, InterruptedException {
        return ChildJvm.run(GlobalHeapProbe.class, options);
    }
}
