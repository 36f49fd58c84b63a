package dev.spanheap.internal;

import dev.spanheap.OsMemoryException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * {@link OsMemory} over Linux's {@code mmap}, {@code madvise} and {@code munmap}, called through
 * {@link Linker} downcalls with errno captured right after each call (the JVM may overwrite errno
 * before Java code could read it otherwise).
 *
 * <p>These calls sit on the slow path only: reserving happens once per heap, committing once per
 * growth step, decommitting once per released run.
 */
public final class LinuxOsMemory implements OsMemory {

    // Values shared by Linux on x86-64 and aarch64 (asm-generic/mman-common.h).
    private static final int PROT_NONE = 0x0;
    private static final int PROT_READ = 0x1;
    private static final int PROT_WRITE = 0x2;
    private static final int MAP_PRIVATE = 0x02;
    private static final int MAP_FIXED = 0x10;
    private static final int MAP_ANONYMOUS = 0x20;
    private static final int MAP_NORESERVE = 0x4000;
    private static final int MADV_DONTNEED = 4;
    private static final int MADV_HUGEPAGE = 14;
    private static final long MAP_FAILED = -1L;

    /** The one instance: the downcall handles are process-wide. */
    public static final LinuxOsMemory INSTANCE = new LinuxOsMemory();

    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private final MethodHandle mmap;
    private final MethodHandle munmap;
    private final MethodHandle madvise;
    private final MethodHandle strerror;

    private LinuxOsMemory() {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        Linker.Option captureErrno = Linker.Option.captureCallState("errno");
        mmap = linker.downcallHandle(libc.findOrThrow("mmap"),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG),
                captureErrno);
        munmap = linker.downcallHandle(libc.findOrThrow("munmap"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                captureErrno);
        madvise = linker.downcallHandle(libc.findOrThrow("madvise"),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT),
                captureErrno);
        strerror = linker.downcallHandle(libc.findOrThrow("strerror"),
                FunctionDescriptor.of(ValueLayout.ADDRESS.withTargetLayout(
                        MemoryLayout.sequenceLayout(256, ValueLayout.JAVA_BYTE)), ValueLayout.JAVA_INT));
    }

    @Override
    public long reserve(long bytes) {
        return map("mmap", 0L, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    }

    @Override
    public void commit(long address, long bytes) {
        map("mmap", address, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE);
    }

    @Override
    public void decommit(long address, long bytes) {
        call("madvise", bytes, state -> (int) madvise.invokeExact(state, address, bytes, MADV_DONTNEED));
    }

    @Override
    public boolean adviseHugePages(long address, long bytes) {
        try {
            call("madvise", bytes, state -> (int) madvise.invokeExact(state, address, bytes, MADV_HUGEPAGE));
            return true;
        } catch (OsMemoryException refused) {
            // EINVAL from a kernel built without transparent huge pages: small pages serve as before.
            return false;
        }
    }

    @Override
    public void unmap(long address, long bytes) {
        call("munmap", bytes, state -> (int) munmap.invokeExact(state, address, bytes));
    }

    /** A call that returns 0 on success, given the segment that captures errno. */
    @FunctionalInterface
    private interface IntCall {
        int invoke(MemorySegment callState) throws Throwable;
    }

    private void call(String name, long bytes, IntCall call) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            if (call.invoke(state) != 0) {
                throw failure(name, bytes, state);
            }
        } catch (OsMemoryException e) {
            throw e;
        } catch (Throwable e) {
            throw new AssertionError(name + " downcall failed", e);
        }
    }

    private long map(String call, long address, long bytes, int protection, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long result = (long) mmap.invokeExact(state, address, bytes, protection, flags, -1, 0L);
            if (result == MAP_FAILED) {
                throw failure(call, bytes, state);
            }
            return result;
        } catch (OsMemoryException e) {
            throw e;
        } catch (Throwable e) {
            throw new AssertionError(call + " downcall failed", e);
        }
    }

    private OsMemoryException failure(String call, long bytes, MemorySegment state) {
        int errno = (int) ERRNO.get(state, 0L);
        return new OsMemoryException(call, bytes, errno, describe(errno));
    }

    private String describe(int errno) {
        try {
            MemorySegment text = (MemorySegment) strerror.invokeExact(errno);
            return text.getString(0);
        } catch (Throwable e) {
            return "unknown error";
        }
    }
}
