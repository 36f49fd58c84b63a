package dev.spanheap;

import dev.spanheap.internal.HeapConfig;
import java.util.Locale;

/**
 * The defaults that system properties give the options a {@link Spanheap.Builder} leaves alone
 * ({@link Spanheap#global()}'s among them), so that an operator changes them without a change of
 * code, as Go's {@code GODEBUG} and the native allocators' environment variables
 * ({@code MALLOC_CHECK_}, {@code TCMALLOC_*}, {@code MIMALLOC_*}) do. A value that does not parse is
 * refused by name when the heap is built, rather than ignored.
 */
final class PropertyDefaults {

    /** Bytes per heap-profile sample, 0 or more: Go's {@code GODEBUG=memprofilerate=N}. */
    static final String PROFILE_RATE = "spanheap.profileRate";
    /** {@code true} or {@code false}: the debugging mode of {@link Spanheap.Builder#checked}. */
    static final String CHECKED = "spanheap.checked";

    private PropertyDefaults() {
    }

    static long profileRate() {
        String value = System.getProperty(PROFILE_RATE);
        if (value == null) {
            return HeapConfig.DEFAULT_PROFILE_RATE;
        }
        try {
            long rate = Long.parseLong(value.strip());
            if (rate >= 0) {
                return rate;
            }
        } catch (NumberFormatException notANumber) {
            // Refused below, with the value as given.
        }
        throw refused(PROFILE_RATE, "a number of bytes, 0 or more", value);
    }

    static boolean checked() {
        String value = System.getProperty(CHECKED);
        if (value == null) {
            return false;
        }
        return switch (value.strip().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw refused(CHECKED, "true or false", value);
        };
    }

    private static IllegalArgumentException refused(String property, String expected, String value) {
        return new IllegalArgumentException(
                String.format("system property %s must be %s: \"%s\"", property, expected, value));
    }
}
