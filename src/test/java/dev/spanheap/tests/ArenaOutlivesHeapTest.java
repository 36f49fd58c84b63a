package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
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
        List<String> command = List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx64m", "-XX:-CreateCoredumpOnCrash",
                "-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/spanheap-arena-probe-%p.log",
                "-cp", System.getProperty("java.class.path"), ArenaOutlivesHeapProbe.class.getName());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(process.waitFor(1, TimeUnit.MINUTES)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        assertThat(output.lines().toList()).last().isEqualTo("read 0, then 5");
    }
}
