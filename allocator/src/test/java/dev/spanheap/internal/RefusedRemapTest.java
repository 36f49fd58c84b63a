package dev.spanheap.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A close that cannot map fresh pages over the heap's memory leaves it mapped, as a close that succeeds
 * does (it then holds fresh zero pages): views that outlive the close, the Netty adapter's buffers
 * and the segments of arenas still open, keep working until they are unreachable. Such a close used
 * to unmap at once, and the next access through a view crashed the JVM with SIGSEGV.
 */
class RefusedRemapTest {

    @Test
    void viewsOutliveACloseWhoseFreshPagesWereRefused() throws IOException, InterruptedException {
        List<String> command = List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx64m", "-XX:-CreateCoredumpOnCrash",
                "-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/spanheap-remap-probe-%p.log",
                "-cp", System.getProperty("java.class.path"), RefusedRemapProbe.class.getName());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertThat(process.waitFor(1, TimeUnit.MINUTES)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        // Whether the old contents or zero pages are left depends on which calls the OS refused.
        assertThat(output.lines().reduce((first, second) -> second).orElse(""))
                .matches("after the refused close: buffer read (42|0), segment read (7|0)");
    }
}
