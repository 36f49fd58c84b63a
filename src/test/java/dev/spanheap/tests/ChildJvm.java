package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a class's {@code main} in a JVM of its own, on this test's JDK and class path: for what
 * depends on how a JVM starts (system properties read once), and for what a crash would end
 * (a fault kills that JVM, which the test then sees as a failure, not its own death).
 */
final class ChildJvm {

    private ChildJvm() {
    }

    /**
     * What {@code main} printed to standard output, once its JVM ended normally within a minute; the
     * options go before the class path. Standard error (the launcher's note of
     * {@code JDK_JAVA_OPTIONS}, say) is kept apart, and shown only if the JVM failed.
     */
    static String run(Class<?> main, String... options) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElseThrow());
        command.add("--enable-native-access=ALL-UNNAMED");
        command.add("-XX:-CreateCoredumpOnCrash");
        command.add("-XX:ErrorFile=" + System.getProperty("java.io.tmpdir") + "/spanheap-child-jvm-%p.log");
        command.addAll(List.of(options));
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        Path errors = Files.createTempFile("spanheap-child-jvm", ".stderr");
        try {
            Process process = new ProcessBuilder(command).redirectError(errors.toFile()).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            assertThat(process.waitFor(1, TimeUnit.MINUTES)).isTrue();
            assertThat(process.exitValue()).as("%s%n%s", output, Files.readString(errors).strip()).isZero();
            return output;
        } finally {
            Files.delete(errors);
        }
    }

    /** The last line {@link #run} returned. */
    static String lastLine(String output) {
        return output.lines().reduce((first, second) -> second).orElse("");
    }
}
