package io.orderpush.gateway.drill;

import java.util.List;

/** Writes a drill report's sections as Markdown, escaping all text (app names come from users). */
final class ReportMarkdown {

  private ReportMarkdown() {}

  static String render(String title, String verdict, List<ReportSection> sections) {
    StringBuilder md = new StringBuilder();
    md.append("# ").append(escape(title)).append("\n\n");
    md.append("**").append(escape(verdict)).append("**\n");
    for (ReportSection section : sections) {
      md.append("\n## ").append(escape(section.title())).append("\n\n");
      for (String p : section.paragraphs()) {
        md.append(escape(p)).append("\n\n");
      }
      for (ReportSection.Table table : section.tables()) {
        table(md, table);
        md.append('\n');
      }
    }
    return md.toString().replaceAll("\n{3,}", "\n\n").stripTrailing() + "\n";
  }

  private static void table(StringBuilder md, ReportSection.Table table) {
    row(md, table.columns());
    md.append('|');
    for (int c = 0; c < table.columns().size(); c++) {
      md.append(table.rightAligned(c) ? "---:|" : "---|");
    }
    md.append('\n');
    table.rows().forEach(r -> row(md, r));
  }

  private static void row(StringBuilder md, List<String> cells) {
    md.append('|');
    for (String cell : cells) {
      md.append(' ').append(escape(cell)).append(" |");
    }
    md.append('\n');
  }

  /**
   * Escapes the characters that would make text into markup, inline HTML or a table cell boundary
   * (HTML's as entities, the rest with a backslash), and folds line breaks (a name must not start a
   * heading or end a table row).
   */
  static String escape(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (char c : text.toCharArray()) {
      switch (c) {
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '&' -> out.append("&amp;");
        case '\\', '`', '*', '_', '[', ']', '|', '#', '!' -> out.append('\\').append(c);
        case '\n', '\r', '\t' -> out.append(' ');
        default -> out.append(c);
      }
    }
    return out.toString();
  }
}
