package dev.spanheap.internal;

import java.util.concurrent.locks.ReentrantLock;

/**
 * The shared pool of one size class (Go's mcentral): the spans of that class that still hold free
 * objects, in a doubly linked "partial" list threaded through the span records. Thread caches refill
 * from it and drain to it in batches; it cuts new spans from the page heap when the list is empty
 * and returns a span to the page heap as soon as all of its objects are back.
 *
 * <p>A span of this class is either on the partial list ({@code freeObjects > 0}) or off it (every
 * object is in a cache or with a user). Each span's bitmap has bit i set when object i is in the
 * span. Invariant, per span: {@code freeObjects == popcount(bits) <= objects}; checked by
 * {@link #verify()}.
 *
 * <p>Two things keep batches away from the bitmaps, after TCMalloc's transfer cache:
 * <ul>
 *   <li>a stack of free objects, {@code transfer}, that drained batches are copied into and refills
 *       are copied out of, so a block freed on one thread reaches an allocating thread with two array
 *       copies and no per-object work (bounded to {@link #TRANSFER_BYTES} per class);</li>
 *   <li>spans whose objects are all free stay on the list, up to {@link #EMPTY_SPAN_BYTES} per class,
 *       instead of going back to the page heap to be cut again on the next refill.</li>
 * </ul>
 * {@link #releaseIdle()} empties both, for {@code releaseMemory} and the scavenger.
 *
 * <p>Every method runs under this list's lock; it takes the page heap's lock inside its own (never
 * the other way round).
 */
final class CentralList {

    private final ReentrantLock lock = new ReentrantLock();
    private final int sizeClass;
    private final int objectSize;
    private final int spanPages;
    private final int spanObjects;
    /** Multiply-and-shift replacement for division by the object size (Go's divMagic). */
    private final long divMagic;
    private final PageHeap pageHeap;
    private final SpanTable spans;
    private final long heapBase;

    /**
     * Bytes of free objects the transfer stack may hold. 256 KiB: thread caches of up to 24 MiB do
     * most of the buffering, and what sits here is memory that no thread's cache counts (the
     * fragmentation workload's peak grew by 16 MiB with 512 KiB here and in {@link #EMPTY_SPAN_BYTES}).
     */
    static final long TRANSFER_BYTES = 256 << 10;
    /**
     * The most objects a transfer stack holds, whatever {@link #TRANSFER_BYTES} allows: for the
     * smallest classes 256 KiB would be 16K objects, a 128 KiB Java array per class; 4096 objects
     * (a 32 KiB array) are still 128 batches of the largest batch size.
     */
    static final int MAX_TRANSFER_OBJECTS = 4096;
    /** Bytes of wholly free spans kept on the list (at least one span). */
    static final long EMPTY_SPAN_BYTES = 256 << 10;

    /**
     * Set by {@link #close()} under {@link #lock}, before the heap's memory (span records included)
     * is swapped for zero pages: from then on every operation refuses. A thread that raced the close
     * would otherwise work on records that no longer match this list's fields (a span on the list
     * reading as having no free objects gets linked again, to itself, and a walk of the list never
     * ends).
     */
    private boolean closed;
    private int partialHead;
    /** Spans of this class now cut from the page heap. */
    private int spanCount;
    /** Spans on the list with every object free. */
    private int emptySpans;
    private final int maxEmptySpans;
    private final long[] transfer;
    private int transferCount;

    private final FreeMarks marks;

    CentralList(int sizeClass, PageHeap pageHeap, FreeMarks marks) {
        this.marks = marks;
        this.sizeClass = sizeClass;
        this.objectSize = SizeClasses.SIZE[sizeClass];
        this.spanPages = SizeClasses.PAGES[sizeClass];
        this.spanObjects = SizeClasses.OBJECTS[sizeClass];
        this.divMagic = SizeClasses.DIV_MAGIC[sizeClass];
        this.pageHeap = pageHeap;
        this.spans = pageHeap.spans;
        this.heapBase = pageHeap.base();
        long spanBytes = spanPages * Pages.SIZE;
        this.maxEmptySpans = (int) Math.max(1, EMPTY_SPAN_BYTES / spanBytes);
        int batch = TransferBatches.OBJECTS[sizeClass];
        // Two batches at least, but a single batch for objects over a quarter of TRANSFER_BYTES
        // (over 64 KiB), so that a class of 1 MiB objects holds one batch here (2 MiB) and not two.
        long minimum = objectSize <= TRANSFER_BYTES / 4 ? 2L * batch : batch;
        int capacity = (int) Math.min(MAX_TRANSFER_OBJECTS, Math.max(minimum, TRANSFER_BYTES / objectSize));
        this.transfer = new long[capacity / batch * batch];
    }

    /** Refuses every later operation; see {@link #closed}. */
    void close() {
        LockWaits.lock(lock);
        try {
            closed = true;
        } finally {
            lock.unlock();
        }
    }

    /** Throws the heap's closed exception once {@link #close()} has run. This list's lock. */
    private void checkOpen() {
        if (closed) {
            throw FreeChecks.closed();
        }
    }

    static int objectIndex(long offsetInSpan, long divMagic) {
        return (int) ((offsetInSpan * divMagic) >>> 48);
    }

    /**
     * Moves up to {@code max} objects into {@code out[from..]}, cutting a new span if none has free
     * objects. Returns how many it moved: at least one, or 0 if the page heap is out of space. If
     * the OS refuses pages for a new span, it returns what it has, or throws if that is nothing.
     */
    int take(long[] out, int from, int max) {
        LockWaits.lock(lock);
        try {
            checkOpen();
            int taken = Math.min(max, transferCount);
            if (taken > 0) {
                transferCount -= taken;
                System.arraycopy(transfer, transferCount, out, from, taken);
            }
            while (taken < max) {
                int span = partialHead;
                if (span == 0) {
                    // The page heap may call the OS for the new span (growth's mmap, or a release
                    // before it): not under this lock, which the class's other threads need.
                    int cut;
                    RuntimeException osRefused = null;
                    lock.unlock();
                    try {
                        cut = cutSpan();
                    } catch (RuntimeException e) {
                        cut = 0;
                        osRefused = e;
                    } finally {
                        LockWaits.lock(lock);
                    }
                    if (osRefused != null) {
                        // The objects already taken are in out[] and nowhere else: hand them over,
                        // and let the next refill meet the refusal if it lasts.
                        if (taken > 0) {
                            return taken;
                        }
                        throw osRefused;
                    }
                    if (cut == 0) {
                        break;
                    }
                    checkOpen();
                    spanCount++;
                    emptySpans++;
                    link(cut);
                    span = cut;
                }
                taken += takeFrom(span, out, from + taken, max - taken);
            }
            return taken;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Returns {@code count} objects from {@code objects[from..]} to their spans. A span that gets
     * all its objects back goes to the page heap. Throws if an object is already in its span, which
     * only a double free that slipped past the cheap checks can cause; the objects before it are
     * returned, the rest are not touched. Returns whether a span of at least
     * {@link PageHeap#INLINE_SCAVENGE_MIN_BYTES} went to the page heap.
     */
    boolean give(long[] objects, int from, int count) {
        LockWaits.lock(lock);
        try {
            checkOpen();
            if (transfer.length - transferCount >= count) {
                System.arraycopy(objects, from, transfer, transferCount, count);
                transferCount += count;
                return false;
            }
            int spansBefore = spanCount;
            for (int i = from; i < from + count; i++) {
                giveOne(objects[i]);
            }
            return spanCount < spansBefore && (long) spanPages * Pages.SIZE >= PageHeap.INLINE_SCAVENGE_MIN_BYTES;
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@link #give} from a thread's free: when that sends a span of at least
     * {@link PageHeap#INLINE_SCAVENGE_MIN_BYTES} to the page heap, the scavenger's inline check runs
     * after this list's lock is dropped (no system call under it). Not for flushes, which may run
     * under other locks.
     */
    void giveFromFree(long[] objects, int from, int count) {
        if (give(objects, from, count)) {
            pageHeap.scavengeAfterLargeFree();
        }
    }

    /**
     * Returns the transfer stack's objects to their spans and wholly free spans to the page heap,
     * so that their pages can be released.
     */
    void releaseIdle() {
        LockWaits.lock(lock);
        try {
            checkOpen();
            int count = transferCount;
            transferCount = 0;
            for (int i = 0; i < count; i++) {
                giveOne(transfer[i]);
            }
            int span = partialHead;
            while (span != 0) {
                int next = spans.listNext(span);
                if (spans.freeObjects(span) == spanObjects) {
                    releaseSpan(span);
                }
                span = next;
            }
        } finally {
            lock.unlock();
        }
    }

    private void releaseSpan(int span) {
        unlink(span);
        emptySpans--;
        spanCount--;
        pageHeap.free(span);
    }

    /**
     * Bytes idle here, in the transfer stack and in kept empty spans; a racy read without the lock,
     * for the scavenger's estimate of what is really in use.
     */
    long idleBytes() {
        return (long) transferCount * objectSize + (long) emptySpans * spanPages * Pages.SIZE;
    }

    /** Free objects held in the transfer stack. */
    int transferred() {
        LockWaits.lock(lock);
        try {
            checkOpen();
            return transferCount;
        } finally {
            lock.unlock();
        }
    }

    private void giveOne(long address) {
        long offset = address - heapBase;
        int span = pageHeap.pageMap.spanAt((int) (offset >>> Pages.SHIFT));
        long spanOffset = offset - ((long) spans.start(span) << Pages.SHIFT);
        int index = objectIndex(spanOffset, divMagic);
        long bits = spans.freeBits(span, index >>> 6);
        long bit = 1L << index;
        if ((bits & bit) != 0) {
            throw new IllegalStateException(String.format(
                    "double free of 0x%x: the %d-byte object is already free", address, objectSize));
        }
        spans.setFreeBits(span, index >>> 6, bits | bit);
        int free = spans.freeObjects(span) + 1;
        spans.setFreeObjects(span, free);
        if (free == 1) {
            link(span);
        }
        if (free == spanObjects) {
            emptySpans++;
            if (emptySpans > maxEmptySpans) {
                releaseSpan(span);
            }
        }
    }

    private int takeFrom(int span, long[] out, int at, int max) {
        if (spans.freeObjects(span) == spanObjects) {
            emptySpans--;
        }
        long spanBase = heapBase + ((long) spans.start(span) << Pages.SHIFT);
        int taken = 0;
        for (int word = 0; word < SpanTable.BITMAP_WORDS && taken < max; word++) {
            long bits = spans.freeBits(span, word);
            while (bits != 0 && taken < max) {
                int index = (word << 6) + Long.numberOfTrailingZeros(bits);
                bits &= bits - 1;
                out[at + taken++] = spanBase + (long) index * objectSize;
            }
            spans.setFreeBits(span, word, bits);
        }
        int free = spans.freeObjects(span) - taken;
        spans.setFreeObjects(span, free);
        if (free == 0) {
            unlink(span);
        }
        return taken;
    }

    /**
     * A new span of this class from the page heap, its objects all free and marked, or 0 when the
     * page heap is out of space. Called without this list's lock: nothing else knows the span until
     * the page map names it, which happens last, so a free that finds its pages finds it complete;
     * the caller then adds it to the list under the lock.
     */
    private int cutSpan() {
        int span = pageHeap.allocate(spanPages, Pages.SIZE, SpanTable.SMALL);
        if (span == 0) {
            return 0;
        }
        spans.setSizeClass(span, sizeClass);
        spans.setObjects(span, spanObjects);
        spans.setFreeObjects(span, spanObjects);
        // No object of the new span is allocated, so each must carry its mark: a stale free of an
        // address from the pages' earlier life then fails as a double free instead of adding an
        // object that is already in the bitmap a second time.
        marks.markSpanFree(heapBase + ((long) spans.start(span) << Pages.SHIFT), sizeClass, spanObjects);
        for (int word = 0; word < SpanTable.BITMAP_WORDS; word++) {
            int first = word << 6;
            int inWord = Math.clamp(spanObjects - first, 0, 64);
            spans.setFreeBits(span, word, inWord == 64 ? -1L : (1L << inWord) - 1);
        }
        pageHeap.pageMap.setSmall(spans.start(span), spanPages, span, sizeClass);
        return span;
    }

    private void link(int span) {
        spans.setListPrev(span, 0);
        spans.setListNext(span, partialHead);
        if (partialHead != 0) {
            spans.setListPrev(partialHead, span);
        }
        partialHead = span;
    }

    private void unlink(int span) {
        int prev = spans.listPrev(span);
        int next = spans.listNext(span);
        if (prev != 0) {
            spans.setListNext(prev, next);
        } else {
            partialHead = next;
        }
        if (next != 0) {
            spans.setListPrev(next, prev);
        }
        spans.setListPrev(span, 0);
        spans.setListNext(span, 0);
    }

    /** Spans of this class and the objects in them: {spans, objects in spans}. */
    long[] census() {
        LockWaits.lock(lock);
        try {
            checkOpen();
            long objectsInSpans = 0;
            for (int span = partialHead; span != 0; span = spans.listNext(span)) {
                objectsInSpans += spans.freeObjects(span);
            }
            return new long[] {spanCount, objectsInSpans};
        } finally {
            lock.unlock();
        }
    }

    /** Checks that the free object at {@code address} carries its free mark ({@link FreeMarks}). */
    private void verifyMarked(long address) {
        Invariants.check(marks.isFree(address, sizeClass), "free object 0x%x of class %d is not marked free", address,
                sizeClass);
    }

    /**
     * Checks this class's spans: every span on the partial list has free objects and a bitmap that
     * agrees with its count, the list's links are consistent, and every free object, on the
     * transfer stack or in a span, carries its free mark.
     */
    void verify() {
        LockWaits.lock(lock);
        try {
            checkOpen();
            int previous = 0;
            int listed = 0;
            int empty = 0;
            Invariants.check(transferCount >= 0 && transferCount <= transfer.length,
                    "class %d's transfer stack holds %d", sizeClass, transferCount);
            for (int i = 0; i < transferCount; i++) {
                verifyMarked(transfer[i]);
            }
            for (int span = partialHead; span != 0; span = spans.listNext(span)) {
                Invariants.check(spans.state(span) == SpanTable.SMALL && spans.sizeClass(span) == sizeClass,
                        "span %d on class %d's list has state %d class %d", span, sizeClass,
                        spans.state(span), spans.sizeClass(span));
                Invariants.check(spans.listPrev(span) == previous, "span %d has a broken back link", span);
                int counted = 0;
                long spanBase = heapBase + ((long) spans.start(span) << Pages.SHIFT);
                for (int word = 0; word < SpanTable.BITMAP_WORDS; word++) {
                    long bits = spans.freeBits(span, word);
                    counted += Long.bitCount(bits);
                    for (; bits != 0; bits &= bits - 1) {
                        verifyMarked(spanBase + (long) ((word << 6) + Long.numberOfTrailingZeros(bits)) * objectSize);
                    }
                }
                int free = spans.freeObjects(span);
                if (free == spanObjects) {
                    empty++;
                }
                Invariants.check(free == counted && free > 0 && free <= spanObjects,
                        "span %d of class %d: freeObjects %d, bitmap %d, objects %d", span, sizeClass, free,
                        counted, spanObjects);
                previous = span;
                Invariants.check(++listed <= spanCount, "class %d's list is longer than its span count", sizeClass);
            }
            Invariants.check(empty == emptySpans && empty <= maxEmptySpans,
                    "class %d keeps %d empty spans, counted %d (max %d)", sizeClass, emptySpans, empty, maxEmptySpans);
        } finally {
            lock.unlock();
        }
    }
}
