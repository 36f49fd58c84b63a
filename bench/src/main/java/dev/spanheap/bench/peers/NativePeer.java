package dev.spanheap.bench.peers;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * A C allocator called through FFM downcalls: glibc's malloc/free, tcmalloc's tc_malloc/tc_free or
 * mimalloc's mi_malloc/mi_free. Downcalls use {@code Linker.Option.critical(false)}, the cheapest
 * transition FFM offers for calls that neither block nor call back.
 *
 * <p>Each library's handles live in {@code static final} fields of its own subclass: the JIT
 * inlines a downcall's stub only when the handle is a constant. Handles held in instance fields
 * cost these peers about 4 ns per allocate/free pair (measured), which would flatter Spanheap.
 */
abstract sealed class NativePeer extends AddressSlots {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final FunctionDescriptor MALLOC = FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG);
    private static final FunctionDescriptor FREE = FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG);

    /** Calls the library's malloc. */
    abstract long malloc(long size) throws Throwable;

    /** Calls the library's free. */
    abstract void release(long address) throws Throwable;

    private static MethodHandle downcall(SymbolLookup lookup, String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(lookup.findOrThrow(name), descriptor, Linker.Option.critical(false));
    }

    private static SymbolLookup library(String name) {
        return SymbolLookup.libraryLookup(name, Arena.global());
    }

    /** The peer made by {@code factory}, or empty when {@code library} is not installed. */
    private static Optional<Peer> ifInstalled(String library, Supplier<Peer> factory) {
        try {
            library(library);
        } catch (IllegalArgumentException notInstalled) {
            return Optional.empty();
        }
        return Optional.of(factory.get());
    }

    static Optional<Peer> tcmalloc() {
        return ifInstalled(Tcmalloc.LIBRARY, Tcmalloc::new);
    }

    static Optional<Peer> mimalloc() {
        return ifInstalled(Mimalloc.LIBRARY, Mimalloc::new);
    }

    static Peer glibc() {
        return new Glibc();
    }

    @Override
    public final void allocate(int slot, long size) {
        long address;
        try {
            address = malloc(size);
        } catch (Throwable e) {
            throw rethrow(e);
        }
        if (address == 0) {
            throw new OutOfMemoryError("native malloc(" + size + ") returned NULL");
        }
        addresses[slot] = address;
    }

    @Override
    public final void free(int slot) {
        try {
            release(addresses[slot]);
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
    public final void close() {
    }

    static final class Tcmalloc extends NativePeer {
        static final String LIBRARY = "libtcmalloc_minimal.so.4";
        private static final SymbolLookup LOOKUP = library(LIBRARY);
        private static final MethodHandle TC_MALLOC = downcall(LOOKUP, "tc_malloc", MALLOC);
        private static final MethodHandle TC_FREE = downcall(LOOKUP, "tc_free", FREE);

        @Override
        long malloc(long size) throws Throwable {
            return (long) TC_MALLOC.invokeExact(size);
        }

        @Override
        void release(long address) throws Throwable {
            TC_FREE.invokeExact(address);
        }
    }

    static final class Mimalloc extends NativePeer {
        static final String LIBRARY = "libmimalloc.so.2";
        private static final SymbolLookup LOOKUP = library(LIBRARY);
        private static final MethodHandle MI_MALLOC = downcall(LOOKUP, "mi_malloc", MALLOC);
        private static final MethodHandle MI_FREE = downcall(LOOKUP, "mi_free", FREE);

        @Override
        long malloc(long size) throws Throwable {
            return (long) MI_MALLOC.invokeExact(size);
        }

        @Override
        void release(long address) throws Throwable {
            MI_FREE.invokeExact(address);
        }
    }

    static final class Glibc extends NativePeer {
        private static final SymbolLookup LOOKUP = LINKER.defaultLookup();
        private static final MethodHandle LIBC_MALLOC = downcall(LOOKUP, "malloc", MALLOC);
        private static final MethodHandle LIBC_FREE = downcall(LOOKUP, "free", FREE);

        @Override
        long malloc(long size) throws Throwable {
            return (long) LIBC_MALLOC.invokeExact(size);
        }

        @Override
        void release(long address) throws Throwable {
            LIBC_FREE.invokeExact(address);
        }
    }
}
