package dev.spanheap.internal;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Checked mode's guard against use after free: every segment handed out gets a scope of its own
 * (a shared {@link Arena}), closed when its block is freed or reallocated, or when the heap closes.
 * A later access through the segment then throws {@link IllegalStateException} on any thread,
 * instead of reading or writing a block that may belong to someone else by then.
 *
 * <p>Why a shared arena per block: a block may be freed on any thread, and only a shared arena may
 * be closed by a thread other than its creator. Closing one makes the JDK handshake every thread,
 * so a thread inside an access to the segment either finishes it before the close returns or gets
 * the exception; the block goes back to the heap only after that. This is what makes the check
 * sound, and what makes it slow (microseconds per free): it is a debugging mode.
 *
 * <p>Raw addresses ({@code malloc}) get no scope; freeing one looks up nothing but a missing key.
 */
final class BlockScopes {

    private final ConcurrentHashMap<Long, Arena> scopes = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /** A segment over the live block at {@code address}, accessible until the block is freed. */
    MemorySegment open(long address, long size) {
        Arena scope = Arena.ofShared();
        MemorySegment segment = MemorySegment.ofAddress(address).reinterpret(size, scope, null);
        Arena previous = scopes.put(address, scope);
        if (previous != null) {
            // The block was freed through a path that did not close its scope; it is live again now.
            previous.close();
        }
        // Checked after publishing: either closeAll() sees the scope, or this thread sees closed.
        if (closed && scopes.remove(address, scope)) {
            scope.close();
            throw FreeChecks.closed();
        }
        return segment;
    }

    /** Whether {@code scope} is that of the live segment of the block at {@code address}. */
    boolean isScopeOf(long address, MemorySegment.Scope scope) {
        Arena open = scopes.get(address);
        return open != null && open.scope().equals(scope);
    }

    /** Ends the segment of the block at {@code address}, if it has one; before the block is freed. */
    void end(long address) {
        Arena scope = scopes.remove(address);
        if (scope != null) {
            scope.close();
        }
    }

    /** Ends every segment still open; for the heap's close. */
    void closeAll() {
        closed = true;
        for (Long address : scopes.keySet()) {
            Arena scope = scopes.remove(address);
            if (scope != null) {
                scope.close();
            }
        }
    }
}
