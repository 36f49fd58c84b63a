package dev.spanheap.netty;

import static org.assertj.core.api.Assertions.assertThat;

import dev.spanheap.Spanheap;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.buffer.UnpooledDirectByteBuf;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.internal.PlatformDependent;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Netty's documented {@code ByteBuf} contract, on both allocators: every scenario runs once on
 * {@link UnpooledByteBufAllocator}'s direct buffers and once on {@link SpanheapByteBufAllocator}'s,
 * and must give the same outcome (values read back, or the exception's type and message).
 */
class ByteBufContractTest {

    private static final Spanheap HEAP = Spanheap.builder().scavenger(false).build();
    private static final ByteBufAllocator NETTY = new UnpooledByteBufAllocator(true);
    private static final ByteBufAllocator SPANHEAP = new SpanheapByteBufAllocator(HEAP);
    /** Netty's NIO direct buffers (no Unsafe), as UnpooledByteBufAllocator makes them where Unsafe is off. */
    private static final ByteBufAllocator NETTY_NIO = new AbstractByteBufAllocator(true) {
        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            return new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            return new UnpooledDirectByteBuf(this, initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    };
    private static final ByteBufAllocator SPANHEAP_NIO = new SpanheapByteBufAllocator(HEAP, true, false);

    private static ResourceLeakDetector.Level leakDetection;

    /**
     * The leak detector wraps one buffer in 128 at random, and a wrapper's name shows in the
     * messages compared here: it is off for these tests (SpanheapByteBufAllocatorTest covers the
     * wrapping itself).
     */
    @BeforeAll
    static void noLeakSampling() {
        leakDetection = ResourceLeakDetector.getLevel();
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
    }

    @AfterAll
    static void checkNothingLeftAndClose() {
        ResourceLeakDetector.setLevel(leakDetection);
        assertThat(HEAP.memStats().heapObjects()).as("every buffer released").isZero();
        HEAP.close();
    }

    record Scenario(String name, Function<ByteBufAllocator, Object> run) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Scenario> scenarios() {
        List<Scenario> all = new ArrayList<>();
        all.add(new Scenario("set and get every type, both byte orders", alloc -> {
            ByteBuf buf = alloc.directBuffer(64);
            try {
                // A new buffer's contents are Netty's to leave undefined (Unpooled's are zero, a pool's
                // and Spanheap's whatever the block held): the dump below reads bytes 62 and 63 too.
                buf.setZero(0, 64);
                buf.setByte(0, 0x81).setShort(1, 0x8203).setShortLE(3, 0x8405).setMedium(5, 0x860708)
                        .setMediumLE(8, 0x890a0b).setInt(11, 0x8c0d0e0f).setIntLE(15, 0x90111213)
                        .setLong(19, 0x9415161718191a1bL).setLongLE(27, 0x9c1d1e1f20212223L).setChar(35, 'é')
                        .setFloat(37, -1.5f).setFloatLE(41, 2.25f).setDouble(45, Math.PI).setDoubleLE(53, -Math.E)
                        .setBoolean(61, true);
                List<Object> values = List.of(buf.getByte(0), buf.getUnsignedByte(0), buf.getShort(1), buf.getShortLE(1),
                        buf.getUnsignedShort(1), buf.getUnsignedShortLE(3), buf.getMedium(5), buf.getMediumLE(5),
                        buf.getUnsignedMedium(8), buf.getUnsignedMediumLE(8), buf.getInt(11), buf.getIntLE(11),
                        buf.getUnsignedInt(15), buf.getUnsignedIntLE(15), buf.getLong(19), buf.getLongLE(19),
                        buf.getLongLE(27), buf.getChar(35), buf.getFloat(37), buf.getFloatLE(41), buf.getDouble(45),
                        buf.getDoubleLE(53), buf.getBoolean(61), buf.getCharSequence(0, 8, StandardCharsets.ISO_8859_1));
                return values + " " + ByteBufUtil.hexDump(buf, 0, 64);
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("write and read every type, then the indices", alloc -> {
            ByteBuf buf = alloc.directBuffer(8, 256);
            try {
                buf.writeByte(-7).writeShort(-300).writeShortLE(0x1234).writeMedium(-5).writeMediumLE(0x123456)
                        .writeInt(Integer.MIN_VALUE).writeIntLE(42).writeLong(-1L).writeLongLE(Long.MAX_VALUE)
                        .writeChar('x').writeFloat(0.1f).writeDouble(1e300).writeBytes(new byte[] {1, 2, 3})
                        .writeZero(5);
                buf.writeCharSequence("Ünïcode", StandardCharsets.UTF_8);
                String indices = buf.readerIndex() + "/" + buf.writerIndex() + "/" + buf.capacity();
                List<Object> values = List.of(buf.readByte(), buf.readShort(), buf.readShortLE(), buf.readMedium(),
                        buf.readUnsignedMediumLE(), buf.readInt(), buf.readIntLE(), buf.readLong(), buf.readLongLE(),
                        buf.readChar(), buf.readFloat(), buf.readDouble(), buf.readByte(), buf.readUnsignedShort(),
                        buf.readableBytes(), buf.readCharSequence(5, StandardCharsets.US_ASCII));
                return indices + " " + values + " " + buf.readerIndex();
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("swapped order view", alloc -> {
            ByteBuf buf = alloc.directBuffer(16);
            try {
                ByteBuf little = buf.order(ByteOrder.LITTLE_ENDIAN);
                little.writeInt(0x01020304).writeLong(5);
                return little.order() + " " + ByteBufUtil.hexDump(buf) + " " + little.getInt(0) + " " + buf.getInt(0);
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("out of bounds", alloc -> {
            ByteBuf buf = alloc.directBuffer(16, 32);
            try {
                return List.of(outcome(() -> buf.getInt(14)), outcome(() -> buf.setLong(-1, 1)),
                        outcome(() -> buf.readByte()), outcome(() -> buf.writerIndex(17)),
                        outcome(() -> buf.writeBytes(new byte[40])), outcome(() -> buf.getBytes(10, new byte[8])),
                        outcome(() -> buf.capacity(33)), outcome(() -> buf.capacity(-1)));
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("NIO views", alloc -> {
            ByteBuf buf = alloc.directBuffer(32);
            try {
                buf.writeBytes("0123456789abcdef".getBytes(StandardCharsets.US_ASCII));
                ByteBuffer view = buf.nioBuffer(2, 8);
                ByteBuffer[] views = buf.nioBuffers();
                ByteBuffer internal = buf.internalNioBuffer(4, 4);
                byte[] read = new byte[view.remaining()];
                view.get(read);
                return List.of(buf.nioBufferCount(), view.isDirect(), view.order(), new String(read, StandardCharsets.US_ASCII),
                        views.length, views[0].remaining(), internal.position(), internal.limit(), internal.get(internal.position()),
                        buf.isDirect(), buf.hasArray(), buf.hasMemoryAddress(),
                        !buf.hasMemoryAddress() || PlatformDependent.directBufferAddress(buf.nioBuffer(0, 1)) == buf.memoryAddress());
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("writes through an NIO view land in the buffer", alloc -> {
            ByteBuf buf = alloc.directBuffer(16);
            try {
                buf.writeZero(16); // the dump reads every byte, and only the view's eight are written
                buf.nioBuffer(0, 16).putLong(3, 0x0102030405060708L);
                return ByteBufUtil.hexDump(buf);
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("slices, duplicates and their reference counts", alloc -> {
            ByteBuf buf = alloc.directBuffer(32);
            buf.writeBytes(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
            ByteBuf slice = buf.slice(2, 4);
            ByteBuf duplicate = buf.duplicate();
            slice.setByte(0, 99);
            duplicate.setByte(7, 77);
            ByteBuf retainedSlice = buf.retainedSlice(1, 3);
            ByteBuf retainedDuplicate = buf.retainedDuplicate();
            String counts = buf.refCnt() + " " + retainedSlice.refCnt() + " " + retainedDuplicate.refCnt();
            String contents = ByteBufUtil.hexDump(buf) + " " + ByteBufUtil.hexDump(slice) + " " + slice.capacity() + " "
                    + ByteBufUtil.hexDump(retainedSlice) + " " + duplicate.readerIndex() + "/" + duplicate.writerIndex();
            retainedSlice.release();
            retainedDuplicate.release();
            String after = buf.refCnt() + " " + outcome(() -> slice.getByte(4));
            ByteBuf readSlice = buf.readRetainedSlice(3);
            String read = ByteBufUtil.hexDump(readSlice) + " " + buf.readerIndex();
            readSlice.release();
            buf.release();
            return counts + " | " + contents + " | " + after + " | " + read + " | " + buf.refCnt() + " "
                    + outcome(() -> slice.getByte(0)) + " " + outcome(() -> duplicate.getByte(0));
        }));
        all.add(new Scenario("capacity up and down", alloc -> {
            ByteBuf buf = alloc.directBuffer(16, 1 << 20);
            try {
                buf.writeBytes("abcdefghijklmnop".getBytes(StandardCharsets.US_ASCII));
                buf.readerIndex(4);
                buf.capacity(100_000);
                String grown = buf.capacity() + " " + buf.readerIndex() + "/" + buf.writerIndex() + " "
                        + buf.toString(StandardCharsets.US_ASCII);
                buf.setByte(99_999, 1);
                buf.capacity(10);
                String shrunk = buf.capacity() + " " + buf.readerIndex() + "/" + buf.writerIndex() + " "
                        + buf.toString(StandardCharsets.US_ASCII);
                buf.capacity(2);
                return grown + " | " + shrunk + " | " + buf.capacity() + " " + buf.readerIndex() + "/" + buf.writerIndex();
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("ensureWritable grows as Netty's calculateNewCapacity says", alloc -> {
            ByteBuf buf = alloc.directBuffer(10, 10_000_000);
            try {
                List<Integer> capacities = new ArrayList<>();
                for (int wanted : new int[] {11, 64, 65, 5000, 4_194_305, 9_000_000}) {
                    buf.ensureWritable(wanted - buf.writerIndex());
                    capacities.add(buf.capacity());
                }
                return capacities + " " + buf.ensureWritable(20_000_000, false) + " " + outcome(() -> buf.ensureWritable(20_000_000))
                        + " " + alloc.calculateNewCapacity(300, 1 << 30);
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("discardReadBytes and discardSomeReadBytes", alloc -> {
            ByteBuf buf = alloc.directBuffer(64);
            try {
                buf.writeBytes(new byte[] {10, 11, 12, 13, 14, 15});
                buf.readerIndex(2);
                buf.markReaderIndex();
                buf.discardReadBytes();
                String first = buf.readerIndex() + "/" + buf.writerIndex() + " " + ByteBufUtil.hexDump(buf);
                ByteBuf read = buf.readBytes(3);
                read.release();
                buf.discardSomeReadBytes();
                return first + " | " + buf.readerIndex() + "/" + buf.writerIndex() + " " + ByteBufUtil.hexDump(buf)
                        + " " + outcome(() -> buf.resetReaderIndex());
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("reference-count errors", alloc -> {
            ByteBuf buf = alloc.directBuffer(8);
            buf.retain(2);
            List<Object> steps = new ArrayList<>();
            steps.add(buf.release(2));
            steps.add(outcome(() -> buf.release(2)));
            steps.add(buf.release());
            steps.add(buf.refCnt());
            steps.add(outcome(() -> buf.release()));
            steps.add(outcome(() -> buf.retain()));
            steps.add(outcome(() -> buf.getByte(0)));
            steps.add(outcome(() -> buf.writeInt(1)));
            steps.add(outcome(() -> buf.nioBuffer()));
            steps.add(outcome(() -> buf.slice()));
            steps.add(outcome(() -> buf.retain(0)));
            return steps;
        }));
        all.add(new Scenario("copies, streams, comparisons", alloc -> {
            ByteBuf buf = alloc.directBuffer(32);
            ByteBuf other = alloc.directBuffer(32);
            try {
                buf.writeBytes(new ByteArrayInputStream("stream in".getBytes(StandardCharsets.US_ASCII)), 9);
                other.writeBytes(buf, 0, 9);
                ByteBuf copy = buf.copy(1, 5);
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                buf.getBytes(0, out, 9);
                ByteBuffer target = ByteBuffer.allocate(4);
                buf.getBytes(2, target);
                String result = List.of(buf.equals(other), buf.compareTo(other), buf.hashCode() == other.hashCode(),
                        copy.toString(StandardCharsets.US_ASCII), copy.isDirect(), out.toString(StandardCharsets.US_ASCII),
                        Arrays.toString(target.array()), buf.indexOf(0, 9, (byte) 'i'), buf.bytesBefore((byte) ' '),
                        ByteBufUtil.getBytes(buf, 3, 3).length).toString();
                copy.release();
                return result;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                buf.release();
                other.release();
            }
        }));
        all.add(new Scenario("read-only views", alloc -> {
            ByteBuf buf = alloc.directBuffer(8);
            try {
                buf.writeInt(5);
                ByteBuf readOnly = buf.asReadOnly();
                return List.of(readOnly.isReadOnly(), readOnly.getInt(0), outcome(() -> readOnly.setInt(0, 1)),
                        outcome(() -> readOnly.nioBuffer().putInt(0, 1)));
            } finally {
                buf.release();
            }
        }));
        all.add(new Scenario("composite direct buffers", alloc -> {
            CompositeByteBuf composite = alloc.compositeDirectBuffer(4);
            ByteBuf a = alloc.directBuffer(4).writeInt(1);
            ByteBuf b = alloc.directBuffer(8).writeLong(2);
            composite.addComponents(true, a, b);
            String result = composite.readableBytes() + " " + composite.numComponents() + " " + composite.readInt() + " "
                    + composite.readLong() + " " + composite.isDirect() + " " + composite.nioBufferCount();
            composite.release();
            return result + " " + a.refCnt() + " " + b.refCnt();
        }));
        all.add(new Scenario("heap, io and default buffers", alloc -> {
            ByteBuf heap = alloc.heapBuffer(16);
            ByteBuf io = alloc.ioBuffer(16);
            ByteBuf plain = alloc.buffer(16);
            String result = List.of(heap.isDirect(), heap.hasArray(), heap.writeInt(3).getInt(0), io.isDirect(),
                    plain.isDirect(), alloc.isDirectBufferPooled() || true, alloc.compositeBuffer().isDirect()).toString();
            heap.release();
            io.release();
            plain.release();
            return result;
        }));
        all.add(new Scenario("zero-capacity buffers", alloc -> {
            ByteBuf buf = alloc.directBuffer(0);
            String result = buf.capacity() + " " + buf.isWritable() + " " + outcome(() -> buf.readByte());
            buf.writeByte(1);
            result += " " + buf.capacity() + " " + buf.getByte(0);
            buf.release();
            return result;
        }));
        return all.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void behavesAsNettysUnpooledDirectBuffers(Scenario scenario) {
        assertSameOutcome(SPANHEAP, NETTY, scenario);
    }

    @ParameterizedTest(name = "NIO buffers: {0}")
    @MethodSource("scenarios")
    void behavesAsNettysNioDirectBuffersWhereUnsafeIsOff(Scenario scenario) {
        assertSameOutcome(SPANHEAP_NIO, NETTY_NIO, scenario);
        ByteBuf probe = SPANHEAP_NIO.directBuffer(8);
        try {
            // The leak detector wraps a sampled buffer: look through its wrapper.
            assertThat(probe.unwrap() != null ? probe.unwrap() : probe).isInstanceOf(SpanheapDirectByteBuf.class);
        } finally {
            probe.release();
        }
    }

    /** The scenario gives the same outcome on both, and leaves no heap block behind on ours. */
    private static void assertSameOutcome(ByteBufAllocator ours, ByteBufAllocator netty, Scenario scenario) {
        long blocksBefore = HEAP.memStats().heapObjects();
        String spanheap = run(ours, scenario);
        assertThat(spanheap).isEqualTo(run(netty, scenario));
        assertThat(HEAP.memStats().heapObjects()).as("every block freed by the last release").isEqualTo(blocksBefore);
    }

    private static String run(ByteBufAllocator alloc, Scenario scenario) {
        return outcome(() -> scenario.run().apply(alloc));
    }

    static String outcome(java.util.function.Supplier<?> action) {
        try {
            // Buffer class names differ between the allocators; their state must not.
            return String.valueOf(action.get()).replaceAll("[\\w$]*ByteBuf\\(", "ByteBuf(");
        } catch (RuntimeException e) {
            return e.getClass().getName() + ": " + e.getMessage();
        }
    }
}
