package dev.spanheap;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.management.InstanceAlreadyExistsException;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import javax.management.StandardMBean;

/** A heap's {@link SpanheapMXBean}, and its registration with the platform MBean server. */
final class SpanheapManagement implements SpanheapMXBean {

    private final Spanheap heap;
    private final String name;
    private final ObjectName objectName;

    private SpanheapManagement(Spanheap heap, String name, ObjectName objectName) {
        this.heap = heap;
        this.name = name;
        this.objectName = objectName;
    }

    /** The object name for {@code jmxName}: {@code dev.spanheap:type=Spanheap,name=...}, quoted when it must be. */
    static ObjectName objectName(String jmxName) {
        String value = jmxName.matches("[A-Za-z0-9._ /@#%&()+-]+") ? jmxName : ObjectName.quote(jmxName);
        try {
            return new ObjectName("dev.spanheap:type=Spanheap,name=" + value);
        } catch (JMException e) {
            throw new IllegalArgumentException("jmxName cannot name an MBean: " + jmxName, e);
        }
    }

    /** Registers an MXBean for {@code heap}; throws {@link IllegalArgumentException} if the name is taken. */
    static SpanheapManagement register(Spanheap heap, String jmxName) {
        SpanheapManagement management = new SpanheapManagement(heap, jmxName, objectName(jmxName));
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        try {
            server.registerMBean(new StandardMBean(management, SpanheapMXBean.class, true), management.objectName);
        } catch (InstanceAlreadyExistsException e) {
            throw new IllegalArgumentException("an MBean named " + management.objectName + " is already registered", e);
        } catch (JMException e) {
            throw new IllegalStateException("cannot register " + management.objectName, e);
        }
        return management;
    }

    void unregister() {
        try {
            ManagementFactory.getPlatformMBeanServer().unregisterMBean(objectName);
        } catch (JMException alreadyGone) {
            // Someone unregistered it by hand: nothing left to do.
        }
    }

    @Override
    public String getName() {
        return name;
    }

    @Override
    public long getSys() {
        return heap.memStats().sys();
    }

    @Override
    public long getHeapSys() {
        return heap.memStats().heapSys();
    }

    @Override
    public long getHeapAlloc() {
        return heap.memStats().heapAlloc();
    }

    @Override
    public long getHeapInuse() {
        return heap.memStats().heapInuse();
    }

    @Override
    public long getHeapIdle() {
        return heap.memStats().heapIdle();
    }

    @Override
    public long getHeapReleased() {
        return heap.memStats().heapReleased();
    }

    @Override
    public long getHeapObjects() {
        return heap.memStats().heapObjects();
    }

    @Override
    public long getMallocs() {
        return heap.memStats().mallocs();
    }

    @Override
    public long getFrees() {
        return heap.memStats().frees();
    }

    @Override
    public long getTotalAlloc() {
        return heap.memStats().totalAlloc();
    }

    @Override
    public long getSpanMetadata() {
        return heap.memStats().spanMetadata();
    }

    @Override
    public long getCacheMetadata() {
        return heap.memStats().cacheMetadata();
    }

    @Override
    public long getCachedBytes() {
        return heap.memStats().cachedBytes();
    }

    @Override
    public long getProfileRate() {
        return heap.profileRate();
    }

    @Override
    public long releaseMemory() {
        return heap.releaseMemory();
    }

    @Override
    public void writeHeapProfile(String path) throws IOException {
        try (OutputStream out = Files.newOutputStream(Path.of(path))) {
            heap.writeHeapProfile(out);
        }
    }

    @Override
    public String leakReport() {
        return heap.leakReport();
    }
}
