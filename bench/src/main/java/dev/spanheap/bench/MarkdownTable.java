package dev.spanheap.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A GitHub-flavoured Markdown table: the first column left-aligned (names), the others
 * right-aligned (figures). The one table renderer of the comparison, the memory workload and the soak.
 */
public final class MarkdownTable {

    private final List<String> headers;
    private final List<List<String>> rows = new ArrayList<>();

    private MarkdownTable(List<String> headers) {
        this.headers = headers;
    }

    public static MarkdownTable withColumns(String... headers) {
        return new MarkdownTable(List.of(headers));
    }

    public static MarkdownTable withColumns(List<String> headers) {
        return new MarkdownTable(List.copyOf(headers));
    }

    /** Adds a row; cells are rendered with {@code String.valueOf}. */
    public MarkdownTable row(Object... cells) {
        if (cells.length != headers.size()) {
            throw new IllegalArgumentException(cells.length + " cells for " + headers.size() + " columns");
        }
        rows.add(Arrays.stream(cells).map(String::valueOf).toList());
        return this;
    }

    public MarkdownTable row(List<?> cells) {
        return row(cells.toArray());
    }

    public String render() {
        StringBuilder text = new StringBuilder();
        line(text, headers);
        text.append("|---|");
        text.append("---:|".repeat(headers.size() - 1)).append('\n');
        rows.forEach(row -> line(text, row));
        return text.toString();
    }

    private static void line(StringBuilder text, List<String> cells) {
        text.append('|');
        cells.forEach(cell -> text.append(' ').append(cell).append(" |"));
        text.append('\n');
    }
}
