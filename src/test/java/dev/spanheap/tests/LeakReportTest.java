package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.Spanheap;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The report of blocks still in use: on demand and, at WARNING through the {@code dev.spanheap}
 * System.Logger (java.util.logging here, the JDK's default backend), when a heap closes with blocks
 * in use.
 */
class LeakReportTest {

    private final Logger logger = Logger.getLogger("dev.spanheap");
    private final List<LogRecord> records = new ArrayList<>();
    private final Handler capture = new Handler() {
        @Override
        public void publish(LogRecord record) {
            synchronized (records) {
                records.add(record);
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    @BeforeEach
    void listen() {
        logger.addHandler(capture);
    }

    @AfterEach
    void stopListening() {
        logger.removeHandler(capture);
    }

    private List<LogRecord> reportsAbout(String heapName) {
        synchronized (records) {
            return records.stream().filter(r -> r.getMessage().contains("'" + heapName + "'")).toList();
        }
    }

    private static long leakingCache(Spanheap heap) {
        return heap.malloc(3000);
    }

    private static long leakingParser(Spanheap heap) {
        return heap.malloc(200);
    }

    @Test
    void closingWithBlocksInUseLogsTheCountBytesAndTheSitesThatHoldThem() {
        Spanheap heap = Spanheap.builder().profileRate(1).jmxName("leak-report-test").build();
        for (int i = 0; i < 3; i++) {
            leakingCache(heap);
        }
        leakingParser(heap);
        heap.free(heap.malloc(5000));
        String report = heap.leakReport();
        assertThat(report).startsWith("Spanheap 'leak-report-test' has 4 blocks (" + (3 * 3072 + 208) + " bytes) in use.");
        // Largest first: the cache's three blocks, then the parser's one, each with its stack.
        int cache = report.indexOf("#1: about 9216 bytes in 3 blocks (3 samples)");
        int cacheFrame = report.indexOf("at " + LeakReportTest.class.getName() + ".leakingCache(LeakReportTest.java:");
        int parser = report.indexOf("#2: about 208 bytes in 1 block (1 sample)");
        int parserFrame = report.indexOf("at " + LeakReportTest.class.getName() + ".leakingParser(LeakReportTest.java:");
        assertThat(cache).isPositive();
        assertThat(cacheFrame).isGreaterThan(cache).isLessThan(parser);
        assertThat(parserFrame).isGreaterThan(parser);
        assertThat(report).doesNotContain("dev.spanheap.internal");

        heap.close();
        List<LogRecord> logged = reportsAbout("leak-report-test");
        assertThat(logged).hasSize(1);
        assertThat(logged.getFirst().getLevel()).isEqualTo(Level.WARNING);
        assertThat(logged.getFirst().getMessage())
                .startsWith("Spanheap 'leak-report-test' closed with 4 blocks (9424 bytes) still in use.")
                .contains("leakingCache").contains("leakingParser");
    }

    @Test
    void aHeapClosedEmptyReportsNothing() {
        Spanheap heap = Spanheap.builder().profileRate(1).jmxName("leak-report-empty").build();
        heap.free(leakingCache(heap));
        assertThat(heap.leakReport()).isEqualTo("Spanheap 'leak-report-empty' has 0 blocks (0 bytes) in use.");
        heap.close();
        assertThat(reportsAbout("leak-report-empty")).isEmpty();
    }

    /** A logging backend that throws cannot keep a heap open: close gives the memory back all the same. */
    @Test
    void aLoggingBackendThatThrowsDoesNotStopTheClose() {
        Handler broken = new Handler() {
            @Override
            public void publish(LogRecord record) {
                throw new IllegalStateException("logging backend down");
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        logger.addHandler(broken);
        try {
            Spanheap heap = Spanheap.builder().jmxName("leak-report-broken-logger").build();
            leakingCache(heap);
            heap.close();
            assertThatThrownBy(() -> heap.malloc(16)).isInstanceOf(IllegalStateException.class)
                    .hasMessage("Spanheap is closed");
            heap.close();
        } finally {
            logger.removeHandler(broken);
        }
    }

    @Test
    void withoutSamplesTheReportSaysHowToGetThem() {
        try (Spanheap heap = Spanheap.builder().profileRate(0).jmxName("leak-report-unprofiled").build()) {
            long block = leakingParser(heap);
            assertThat(heap.leakReport()).isEqualTo("Spanheap 'leak-report-unprofiled' has 1 block (208 bytes) in use."
                    + " Heap profiling is off (profileRate 0); turn it on to see where blocks come from.");
            heap.free(block);
        }
    }

    @Test
    void withProfilingOnButNoLiveBlockSampledTheReportSaysSo() {
        // One sample per TiB on average: the first of 208 bytes is sampled with odds of 2e-10.
        try (Spanheap heap = Spanheap.builder().profileRate(1L << 40).jmxName("leak-report-unsampled").build()) {
            long block = leakingParser(heap);
            assertThat(heap.leakReport()).isEqualTo("Spanheap 'leak-report-unsampled' has 1 block (208 bytes) in use."
                    + " None of them was sampled (one allocation per 1099511627776 bytes allocated is);"
                    + " lower profileRate to see where they come from.");
            heap.free(block);
        }
    }

    @Test
    void aSiteWhoseBlocksWereAllFreedIsNotListed() {
        try (Spanheap heap = Spanheap.builder().profileRate(1).jmxName("leak-report-freed-site").build()) {
            heap.free(leakingCache(heap));
            long block = leakingParser(heap);
            String report = heap.leakReport();
            assertThat(report).contains("#1: about 208 bytes in 1 block (1 sample)").contains("leakingParser")
                    .doesNotContain("#2").doesNotContain("leakingCache");
            heap.free(block);
        }
    }

    /** Each depth of recursion is a stack of its own. */
    private static long leakAtDepth(Spanheap heap, int depth, long size) {
        return depth == 0 ? heap.malloc(size) : leakAtDepth(heap, depth - 1, size);
    }

    @Test
    void theTenLargestSitesAreListedAndTheRestCounted() {
        try (Spanheap heap = Spanheap.builder().profileRate(1).jmxName("leak-report-many-sites").build()) {
            List<Long> blocks = new java.util.ArrayList<>();
            for (int depth = 0; depth < 13; depth++) {
                // Larger blocks deeper: the deepest stack is the largest site and comes first.
                blocks.add(leakAtDepth(heap, depth, 1024L * (depth + 1)));
            }
            String report = heap.leakReport();
            // Blocks are whole size classes, so each site holds its block's usable size.
            assertThat(report).contains("#1: about " + heap.usableSize(blocks.get(12)) + " bytes in 1 block (1 sample)")
                    .contains("#10: about " + heap.usableSize(blocks.get(3)) + " bytes in 1 block")
                    .doesNotContain("#11").endsWith("  ... and 3 more sites");
            // The first site's frames are cut at 16, the rest counted.
            String first = report.substring(report.indexOf("#1:"), report.indexOf("#2:"));
            assertThat(first.lines().filter(line -> line.startsWith("      at "))).hasSize(16);
            // This method's stack and the 13 frames of the deepest recursion.
            int frames = new Throwable().getStackTrace().length + 13;
            assertThat(first).contains("      ... " + (frames - 16) + " more frames");
            blocks.forEach(heap::free);
        }
    }
}
