/**
 * Spanheap: an off-heap memory allocator built on the Foreign Function and Memory API.
 *
 * <p>Only {@code dev.spanheap} is exported; {@code dev.spanheap.internal} holds the allocator's
 * machinery and is described in its {@code package-info.java}. Applications must grant this module
 * native access ({@code --enable-native-access=dev.spanheap}, or {@code ALL-UNNAMED} on the class
 * path) because it calls {@code mmap}, {@code madvise} and {@code munmap}. It reads only JDK
 * modules: JFR for its events, JMX for its optional MXBean.
 */
module dev.spanheap {
    requires jdk.jfr;
    requires java.management;

    exports dev.spanheap;
    // For Spanheap's own adapters only (HeapAccess), never for applications.
    exports dev.spanheap.internal to dev.spanheap.netty;
}
