package io.orderpush.gateway.drill;

import java.util.List;

/**
 * A section of a drill report, before it is written as Markdown or HTML: plain text (each renderer
 * escapes it), then tables.
 */
record ReportSection(String title, List<String> paragraphs, List<Table> tables) {

  static ReportSection of(String title, List<String> paragraphs, Table... tables) {
    return new ReportSection(title, paragraphs, List.of(tables));
  }

  /**
   * @param align one letter per column: {@code l} left, {@code r} right (numbers)
   */
  record Table(List<String> columns, String align, List<List<String>> rows) {

    Table {
      if (align.length() != columns.size()) {
        throw new IllegalArgumentException(
            "align has " + align.length() + " letters for " + columns.size() + " columns");
      }
    }

    boolean rightAligned(int column) {
      return align.charAt(column) == 'r';
    }
  }
}
