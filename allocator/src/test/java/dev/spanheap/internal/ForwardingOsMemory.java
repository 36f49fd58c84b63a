package dev.spanheap.internal;

/**
 * Linux's calls, for test OS layers that change some of them: a subclass overrides the calls it
 * fails, blocks or records, and the rest reach the system unchanged.
 */
abstract class ForwardingOsMemory implements OsMemory {

    @Override
    public long reserve(long bytes) {
        return LinuxOsMemory.INSTANCE.reserve(bytes);
    }

    @Override
    public void commit(long address, long bytes) {
        LinuxOsMemory.INSTANCE.commit(address, bytes);
    }

    @Override
    public void decommit(long address, long bytes) {
        LinuxOsMemory.INSTANCE.decommit(address, bytes);
    }

    @Override
    public boolean adviseHugePages(long address, long bytes) {
        return LinuxOsMemory.INSTANCE.adviseHugePages(address, bytes);
    }

    @Override
    public void unmap(long address, long bytes) {
        LinuxOsMemory.INSTANCE.unmap(address, bytes);
    }
}
