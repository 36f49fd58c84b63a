package dev.spanheap.internal;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/**
 * Writes a heap profile as a gzipped pprof protobuf ({@code profile.proto}, the format of Go's
 * {@code pprof.WriteHeapProfile}), so that {@code go tool pprof} reads it unchanged. Encoded by hand:
 * the library has no runtime dependencies, and the format needs only varints and nested messages.
 *
 * <p>As Go writes it: the sample types {@code alloc_objects/count}, {@code alloc_space/bytes},
 * {@code inuse_objects/count} and {@code inuse_space/bytes}, default {@code inuse_space}; the period
 * type {@code space/bytes} with the sampling rate as period; per sample the estimated values (see
 * {@link HeapProfiler#weight}) and a {@code bytes} label with the block size. A Java frame becomes a
 * function named {@code package.Class.method} in the file {@code package/dir/File.java} (so that
 * {@code -list} finds sources under {@code -source_path}), and a location per function and line.
 */
final class PprofWriter {

    // profile.proto field numbers.
    private static final int PROFILE_SAMPLE_TYPE = 1;
    private static final int PROFILE_SAMPLE = 2;
    private static final int PROFILE_MAPPING = 3;
    private static final int PROFILE_LOCATION = 4;
    private static final int PROFILE_FUNCTION = 5;
    private static final int PROFILE_STRING_TABLE = 6;
    private static final int PROFILE_TIME_NANOS = 9;
    private static final int PROFILE_PERIOD_TYPE = 11;
    private static final int PROFILE_PERIOD = 12;
    private static final int PROFILE_DEFAULT_SAMPLE_TYPE = 14;
    private static final int VALUE_TYPE_TYPE = 1;
    private static final int VALUE_TYPE_UNIT = 2;
    private static final int SAMPLE_LOCATION_ID = 1;
    private static final int SAMPLE_VALUE = 2;
    private static final int SAMPLE_LABEL = 3;
    private static final int LABEL_KEY = 1;
    private static final int LABEL_NUM = 3;
    private static final int LABEL_NUM_UNIT = 4;
    private static final int MAPPING_ID = 1;
    private static final int MAPPING_MEMORY_LIMIT = 3;
    private static final int MAPPING_FILENAME = 5;
    private static final int MAPPING_HAS_FUNCTIONS = 7;
    private static final int MAPPING_HAS_FILENAMES = 8;
    private static final int MAPPING_HAS_LINE_NUMBERS = 9;
    private static final int LOCATION_ID = 1;
    private static final int LOCATION_MAPPING_ID = 2;
    private static final int LOCATION_ADDRESS = 3;
    private static final int LOCATION_LINE = 4;
    private static final int LINE_FUNCTION_ID = 1;
    private static final int LINE_LINE = 2;
    private static final int FUNCTION_ID = 1;
    private static final int FUNCTION_NAME = 2;
    private static final int FUNCTION_SYSTEM_NAME = 3;
    private static final int FUNCTION_FILENAME = 4;

    private final Map<String, Integer> strings = new HashMap<>();
    private final List<String> stringTable = new ArrayList<>();
    private final Map<List<String>, Integer> functions = new HashMap<>();
    private final Map<List<Object>, Integer> locations = new HashMap<>();
    private final Message functionMessages = new Message();
    private final Message locationMessages = new Message();

    private PprofWriter() {
        index("");
    }

    /** Writes {@code sites}, sampled at {@code rate} bytes per sample, to {@code out} (not closed). */
    static void write(Map<HeapProfiler.Site, HeapProfiler.SiteTotals> sites, long rate, OutputStream out)
            throws IOException {
        byte[] profile = new PprofWriter().encode(sites, rate);
        GZIPOutputStream gzip = new GZIPOutputStream(out);
        gzip.write(profile);
        gzip.finish();
        gzip.flush();
    }

    private byte[] encode(Map<HeapProfiler.Site, HeapProfiler.SiteTotals> sites, long rate) {
        Message profile = new Message();
        profile.message(PROFILE_SAMPLE_TYPE, valueType("alloc_objects", "count"));
        profile.message(PROFILE_SAMPLE_TYPE, valueType("alloc_space", "bytes"));
        profile.message(PROFILE_SAMPLE_TYPE, valueType("inuse_objects", "count"));
        profile.message(PROFILE_SAMPLE_TYPE, valueType("inuse_space", "bytes"));
        int bytesKey = index("bytes");
        sites.forEach((site, totals) -> {
            Message sample = new Message();
            long[] locationIds = new long[site.frames().size()];
            for (int i = 0; i < locationIds.length; i++) {
                locationIds[i] = locationOf(site.frames().get(i));
            }
            sample.packed(SAMPLE_LOCATION_ID, locationIds);
            sample.packed(SAMPLE_VALUE, new long[] {Math.round(totals.allocObjects), Math.round(totals.allocBytes),
                    Math.round(totals.inuseObjects), Math.round(totals.inuseBytes)});
            Message label = new Message();
            label.varint(LABEL_KEY, bytesKey);
            label.varint(LABEL_NUM, site.blockSize());
            label.varint(LABEL_NUM_UNIT, index("bytes"));
            sample.message(SAMPLE_LABEL, label);
            profile.message(PROFILE_SAMPLE, sample);
        });
        // One mapping for all Java code, already symbolized, so that pprof neither looks for a binary
        // nor tries to symbolize; its address range covers the locations' made-up addresses.
        Message mapping = new Message();
        mapping.varint(MAPPING_ID, 1);
        mapping.varint(MAPPING_MEMORY_LIMIT, locations.size() + 1L);
        mapping.varint(MAPPING_FILENAME, index("java"));
        mapping.varint(MAPPING_HAS_FUNCTIONS, 1);
        mapping.varint(MAPPING_HAS_FILENAMES, 1);
        mapping.varint(MAPPING_HAS_LINE_NUMBERS, 1);
        profile.message(PROFILE_MAPPING, mapping);
        profile.raw(locationMessages);
        profile.raw(functionMessages);
        profile.varint(PROFILE_TIME_NANOS, System.currentTimeMillis() * 1_000_000L);
        profile.message(PROFILE_PERIOD_TYPE, valueType("space", "bytes"));
        profile.varint(PROFILE_PERIOD, rate);
        profile.varint(PROFILE_DEFAULT_SAMPLE_TYPE, index("inuse_space"));
        // The string table last: every index above has been taken by now.
        for (String s : stringTable) {
            profile.string(PROFILE_STRING_TABLE, s);
        }
        return profile.bytes();
    }

    private Message valueType(String type, String unit) {
        Message valueType = new Message();
        valueType.varint(VALUE_TYPE_TYPE, index(type));
        valueType.varint(VALUE_TYPE_UNIT, index(unit));
        return valueType;
    }

    private int index(String s) {
        return strings.computeIfAbsent(s, key -> {
            stringTable.add(key);
            return stringTable.size() - 1;
        });
    }

    private int locationOf(StackTraceElement frame) {
        int function = functionOf(frame);
        int line = Math.max(frame.getLineNumber(), 0);
        return locations.computeIfAbsent(List.of(function, line), key -> {
            int id = locations.size() + 1;
            Message lineMessage = new Message();
            lineMessage.varint(LINE_FUNCTION_ID, function);
            lineMessage.varint(LINE_LINE, line);
            Message location = new Message();
            location.varint(LOCATION_ID, id);
            location.varint(LOCATION_MAPPING_ID, 1);
            // Java frames have no machine address; a distinct one keeps tools that key on it apart.
            location.varint(LOCATION_ADDRESS, id);
            location.message(LOCATION_LINE, lineMessage);
            locationMessages.message(PROFILE_LOCATION, location);
            return id;
        });
    }

    private int functionOf(StackTraceElement frame) {
        String name = frame.getClassName() + "." + frame.getMethodName();
        String file = sourcePath(frame);
        return functions.computeIfAbsent(List.of(name, file), key -> {
            int id = functions.size() + 1;
            Message function = new Message();
            function.varint(FUNCTION_ID, id);
            function.varint(FUNCTION_NAME, index(name));
            function.varint(FUNCTION_SYSTEM_NAME, index(name));
            function.varint(FUNCTION_FILENAME, index(file));
            functionMessages.message(PROFILE_FUNCTION, function);
            return id;
        });
    }

    /** {@code com/example/Foo.java} for a frame of {@code com.example.Foo} in {@code Foo.java}; "" if unknown. */
    private static String sourcePath(StackTraceElement frame) {
        String file = frame.getFileName();
        if (file == null) {
            return "";
        }
        String className = frame.getClassName();
        int lastDot = className.lastIndexOf('.');
        return lastDot < 0 ? file : className.substring(0, lastDot).replace('.', '/') + "/" + file;
    }

    /** A protobuf message being encoded: fields appended in order. */
    private static final class Message {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        void varint(int field, long value) {
            tag(field, 0);
            rawVarint(value);
        }

        void string(int field, String value) {
            bytes(field, value.getBytes(StandardCharsets.UTF_8));
        }

        void message(int field, Message message) {
            bytes(field, message.bytes());
        }

        void packed(int field, long[] values) {
            Message packed = new Message();
            for (long value : values) {
                packed.rawVarint(value);
            }
            bytes(field, packed.bytes());
        }

        /** Appends {@code fields}, already encoded as fields of this message. */
        void raw(Message fields) {
            out.writeBytes(fields.bytes());
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        private void bytes(int field, byte[] value) {
            tag(field, 2);
            rawVarint(value.length);
            out.writeBytes(value);
        }

        private void tag(int field, int wireType) {
            rawVarint(((long) field << 3) | wireType);
        }

        private void rawVarint(long value) {
            while ((value & ~0x7FL) != 0) {
                out.write((int) ((value & 0x7F) | 0x80));
                value >>>= 7;
            }
            out.write((int) value);
        }
    }
}
