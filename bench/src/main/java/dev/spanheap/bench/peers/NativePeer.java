package dev.spanheap.bench.peers;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * A C allocator called through FFM downcalls: glibc's malloc/free, tcmalloc's tc_malloc/tc_free or
 * mimalloc's mi_malloc/mi_free. Downcalls use {@code Linker.Option.critical(false)}, the cheapest
 * transition FFM offers for calls that neither block nor call back.
 */
final class NativePeer extends AddressSlots {

    private final MethodHandle malloc;
    private final MethodHandle free;

    private NativePeer(SymbolLookup lookup, String mallocName, String freeName) {
        Linker linker = Linker.nativeLinker();
        Linker.Option critical = Linker.Option.critical(false);
        malloc = linker.downcallHandle(lookup.findOrThrow(mallocName),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), critical);
        free = linker.downcallHandle(lookup.findOrThrow(freeName),
                FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG), critical);
    }

    static NativePeer glibc() {
        return new NativePeer(Linker.nativeLinker().defaultLookup(), "malloc", "free");
    }

    /** A peer from a shared library, or empty when the library is not installed. */
    static Optional<NativePeer> fromLibrary(String library, String mallocName, String freeName) {
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(library, Arena.global());
            return Optional.of(new NativePeer(lookup, mallocName, freeName));
        } catch (IllegalArgumentException notInstalled) {
            return Optional.empty();
        }
    }

    @Override
    public void allocate(int slot, long size) {
        try {
            long address = (long) malloc.invokeExact(size);
            if (address == 0) {
                throw new OutOfMemoryError("native malloc(" + size + ") returned NULL");
            }
            addresses[slot] = address;
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    @Override
    public void free(int slot) {
        try {
            free.invokeExact(addresses[slot]);
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    private static RuntimeException rethrow(Throwable e) {
        if (e instanceof RuntimeException runtime) {
            return runtime;
        }
        if (e instanceof Error error) {
            throw error;
        }
        return new IllegalStateException(e);
    }

    @Override
    public void close() {
    }
}
