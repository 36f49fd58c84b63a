package dev.spanheap.tests;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.UnknownFieldSet;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * A pprof profile ({@code profile.proto}) decoded with protobuf-java's generic wire-format parser,
 * independently of the library's hand-written encoder: field numbers from the published
 * {@code profile.proto}, nothing else shared.
 */
record PprofProfile(List<String> strings, List<ValueType> sampleTypes, List<Sample> samples,
                    Map<Long, Location> locations, Map<Long, Function> functions, ValueType periodType, long period,
                    String defaultSampleType, long timeNanos, List<Mapping> mappings,
                    List<Location> locationList, List<Function> functionList) {

    record ValueType(String type, String unit) {
    }

    /** The fields of {@code Mapping} that pprof reads for code it need not symbolize. */
    record Mapping(long id, long memoryStart, long memoryLimit, String filename, boolean hasFunctions,
                   boolean hasFilenames, boolean hasLineNumbers) {
    }

    /**
     * {@code frames}: innermost first, as function name, file and line. {@code numLabels} and
     * {@code numLabelUnits}: each numeric label's value and unit, by key.
     */
    record Sample(List<Frame> frames, List<Long> values, Map<String, Long> numLabels, Map<String, String> numLabelUnits) {
        long value(PprofProfile profile, String type) {
            for (int i = 0; i < profile.sampleTypes().size(); i++) {
                if (profile.sampleTypes().get(i).type().equals(type)) {
                    return values.get(i);
                }
            }
            throw new IllegalArgumentException("no sample type " + type);
        }

        String leaf() {
            return frames.isEmpty() ? "" : frames.getFirst().function();
        }
    }

    record Frame(String function, String file, long line) {
    }

    record Location(long id, long mappingId, long address, List<long[]> lines) {
    }

    record Function(long id, String name, String systemName, String file) {
    }

    /** Decodes gzipped profile bytes. */
    static PprofProfile parseGzipped(byte[] gzipped) {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(gzipped))) {
            return parse(in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static PprofProfile parse(byte[] bytes) throws IOException {
        UnknownFieldSet profile = UnknownFieldSet.parseFrom(bytes);
        List<String> strings = new ArrayList<>();
        for (ByteString s : lengthDelimited(profile, 6)) {
            strings.add(s.toStringUtf8());
        }
        Map<Long, Function> functions = new HashMap<>();
        List<Function> functionList = new ArrayList<>();
        for (ByteString f : lengthDelimited(profile, 5)) {
            UnknownFieldSet fields = UnknownFieldSet.parseFrom(f);
            long id = varint(fields, 1);
            Function function = new Function(id, strings.get((int) varint(fields, 2)),
                    strings.get((int) varint(fields, 3)), strings.get((int) varint(fields, 4)));
            functions.put(id, function);
            functionList.add(function);
        }
        List<Mapping> mappings = new ArrayList<>();
        for (ByteString m : lengthDelimited(profile, 3)) {
            UnknownFieldSet fields = UnknownFieldSet.parseFrom(m);
            mappings.add(new Mapping(varint(fields, 1), varint(fields, 2), varint(fields, 3),
                    strings.get((int) varint(fields, 5)), varint(fields, 7) != 0, varint(fields, 8) != 0,
                    varint(fields, 9) != 0));
        }
        Map<Long, Location> locations = new HashMap<>();
        List<Location> locationList = new ArrayList<>();
        for (ByteString l : lengthDelimited(profile, 4)) {
            UnknownFieldSet fields = UnknownFieldSet.parseFrom(l);
            List<long[]> lines = new ArrayList<>();
            for (ByteString line : lengthDelimited(fields, 4)) {
                UnknownFieldSet lineFields = UnknownFieldSet.parseFrom(line);
                lines.add(new long[] {varint(lineFields, 1), varint(lineFields, 2)});
            }
            long id = varint(fields, 1);
            Location location = new Location(id, varint(fields, 2), varint(fields, 3), lines);
            locations.put(id, location);
            locationList.add(location);
        }
        List<Sample> samples = new ArrayList<>();
        for (ByteString s : lengthDelimited(profile, 2)) {
            UnknownFieldSet fields = UnknownFieldSet.parseFrom(s);
            List<Frame> frames = new ArrayList<>();
            for (long locationId : packed(fields, 1)) {
                Location location = locations.get(locationId);
                for (long[] line : location.lines()) {
                    Function function = functions.get(line[0]);
                    frames.add(new Frame(function.name(), function.file(), line[1]));
                }
            }
            Map<String, Long> labels = new HashMap<>();
            Map<String, String> units = new HashMap<>();
            for (ByteString label : lengthDelimited(fields, 3)) {
                UnknownFieldSet labelFields = UnknownFieldSet.parseFrom(label);
                String key = strings.get((int) varint(labelFields, 1));
                labels.put(key, varint(labelFields, 3));
                units.put(key, strings.get((int) varint(labelFields, 4)));
            }
            samples.add(new Sample(frames, packed(fields, 2), labels, units));
        }
        List<ValueType> sampleTypes = new ArrayList<>();
        for (ByteString v : lengthDelimited(profile, 1)) {
            sampleTypes.add(valueType(v, strings));
        }
        List<ByteString> periodType = lengthDelimited(profile, 11);
        return new PprofProfile(strings, sampleTypes, samples, locations, functions,
                periodType.isEmpty() ? null : valueType(periodType.getFirst(), strings), varint(profile, 12),
                strings.get((int) varint(profile, 14)), varint(profile, 9), mappings, locationList, functionList);
    }

    private static ValueType valueType(ByteString bytes, List<String> strings) throws IOException {
        UnknownFieldSet fields = UnknownFieldSet.parseFrom(bytes);
        return new ValueType(strings.get((int) varint(fields, 1)), strings.get((int) varint(fields, 2)));
    }

    private static List<ByteString> lengthDelimited(UnknownFieldSet fields, int number) {
        return fields.hasField(number) ? fields.getField(number).getLengthDelimitedList() : List.of();
    }

    private static long varint(UnknownFieldSet fields, int number) {
        if (!fields.hasField(number)) {
            return 0;
        }
        List<Long> values = fields.getField(number).getVarintList();
        return values.isEmpty() ? 0 : values.getLast();
    }

    /** A repeated varint field, packed (one length-delimited run) or not. */
    private static List<Long> packed(UnknownFieldSet fields, int number) throws IOException {
        List<Long> values = new ArrayList<>();
        if (!fields.hasField(number)) {
            return values;
        }
        UnknownFieldSet.Field field = fields.getField(number);
        values.addAll(field.getVarintList());
        for (ByteString run : field.getLengthDelimitedList()) {
            CodedInputStream in = run.newCodedInput();
            while (!in.isAtEnd()) {
                values.add(in.readRawVarint64());
            }
        }
        return values;
    }

    /** The sum of one sample type over the samples whose leaf function is {@code leaf} (all if null). */
    long total(String type, String leaf) {
        return samples.stream().filter(s -> leaf == null || s.leaf().equals(leaf)).mapToLong(s -> s.value(this, type)).sum();
    }
}
