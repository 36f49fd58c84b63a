package dev.spanheap.tests;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.spanheap.MemStats;
import dev.spanheap.Spanheap;
import dev.spanheap.SpanheapMXBean;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.management.JMX;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The opt-in MXBean, through the platform MBean server as a JMX client (JConsole, an exporter) sees it. */
class SpanheapMXBeanTest {

    private final MBeanServer server = ManagementFactory.getPlatformMBeanServer();

    @Test
    void theMXBeanShowsMemStatsAndReleasesAndProfilesUntilTheHeapCloses(@TempDir Path dir) throws Exception {
        ObjectName name = new ObjectName("dev.spanheap:type=Spanheap,name=orders");
        // No background scavenger: the release below must find the freed pages still resident.
        Spanheap heap = Spanheap.builder().jmxName("orders").profileRate(1).scavenger(false).build();
        assertThat(server.isRegistered(name)).isTrue();
        long block = heap.malloc(10_000);
        long freed = heap.malloc(1 << 20);
        heap.free(freed);

        MemStats stats = heap.memStats();
        assertThat(server.getAttribute(name, "Name")).isEqualTo("orders");
        assertThat(server.getAttribute(name, "HeapAlloc")).isEqualTo(stats.heapAlloc());
        assertThat(server.getAttribute(name, "HeapObjects")).isEqualTo(1L);
        assertThat(server.getAttribute(name, "Mallocs")).isEqualTo(stats.mallocs());
        assertThat(server.getAttribute(name, "Frees")).isEqualTo(stats.frees());
        assertThat(server.getAttribute(name, "TotalAlloc")).isEqualTo(stats.totalAlloc());
        assertThat(server.getAttribute(name, "HeapSys")).isEqualTo(stats.heapSys());
        assertThat(server.getAttribute(name, "ProfileRate")).isEqualTo(1L);
        for (String attribute : new String[] {"Sys", "HeapInuse", "HeapIdle", "HeapReleased", "SpanMetadata",
                "CacheMetadata", "CachedBytes"}) {
            assertThat(server.getAttribute(name, attribute)).as(attribute).isInstanceOf(Long.class);
        }

        SpanheapMXBean proxy = JMX.newMXBeanProxy(server, name, SpanheapMXBean.class);
        long released = proxy.releaseMemory();
        assertThat(released).isPositive();
        assertThat(proxy.getHeapReleased()).isGreaterThanOrEqualTo(released);
        Path profile = dir.resolve("heap.pb.gz");
        server.invoke(name, "writeHeapProfile", new Object[] {profile.toString()}, new String[] {String.class.getName()});
        PprofProfile written = PprofProfile.parseGzipped(Files.readAllBytes(profile));
        assertThat(written.total("inuse_space", null)).isEqualTo(heap.usableSize(block));
        assertThat(proxy.leakReport()).startsWith("Spanheap 'orders' has 1 block (" + heap.usableSize(block) + " bytes) in use.");

        heap.free(block);
        heap.close();
        assertThat(server.isRegistered(name)).as("unregistered at close").isFalse();
    }

    @Test
    void aTakenNameIsRefusedAndOddNamesAreQuoted() throws Exception {
        try (Spanheap first = Spanheap.builder().jmxName("taken").build()) {
            assertThatThrownBy(() -> Spanheap.builder().jmxName("taken").build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("an MBean named dev.spanheap:type=Spanheap,name=taken is already registered");
            assertThat(first.memStats().heapObjects()).isZero();
        }
        try (Spanheap odd = Spanheap.builder().jmxName("a,b=c").build()) {
            assertThat(server.isRegistered(new ObjectName("dev.spanheap:type=Spanheap,name=" + ObjectName.quote("a,b=c"))))
                    .isTrue();
        }
        assertThatThrownBy(() -> Spanheap.builder().jmxName("")).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("jmxName must not be empty");
    }

    @Test
    void heapsWithoutAJmxNameRegisterNothing() throws Exception {
        int before = server.queryNames(new ObjectName("dev.spanheap:*"), null).size();
        try (Spanheap heap = Spanheap.create()) {
            heap.free(heap.malloc(64));
            assertThat(server.queryNames(new ObjectName("dev.spanheap:*"), null)).hasSize(before);
        }
    }
}
