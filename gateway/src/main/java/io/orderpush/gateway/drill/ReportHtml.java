package io.orderpush.gateway.drill;

import java.util.List;

/**
 * Writes a drill report as one self-contained HTML page (no scripts, fonts or other files): the
 * verdict, the timeline chart and the same sections as the Markdown. All text is escaped.
 */
final class ReportHtml {

  private static final String STYLE =
      """
      body { font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
      .verdict { font-size: 1.2em; font-weight: bold; padding: 0.6em; background: #f3f3f3; }
      table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
      th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
      th { background: #f3f3f3; }
      td.r, th.r { text-align: right; }
      svg { max-width: 100%; height: auto; }
      """;

  private ReportHtml() {}

  static String render(String title, String verdict, String chart, List<ReportSection> sections) {
    StringBuilder html = new StringBuilder();
    html.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.append("<title>").append(escape(title)).append("</title>\n");
    html.append("<style>\n").append(STYLE).append("</style>\n</head>\n<body>\n");
    html.append("<h1>").append(escape(title)).append("</h1>\n");
    html.append("<p class=\"verdict\">").append(escape(verdict)).append("</p>\n");
    html.append("<h2>Rates and lag over time</h2>\n").append(chart);
    for (ReportSection section : sections) {
      html.append("<h2>").append(escape(section.title())).append("</h2>\n");
      for (String p : section.paragraphs()) {
        html.append("<p>").append(escape(p)).append("</p>\n");
      }
      section.tables().forEach(t -> table(html, t));
    }
    html.append("</body>\n</html>\n");
    return html.toString();
  }

  private static void table(StringBuilder html, ReportSection.Table table) {
    html.append("<table>\n<tr>");
    for (int c = 0; c < table.columns().size(); c++) {
      cell(html, "th", table, c, table.columns().get(c));
    }
    html.append("</tr>\n");
    for (List<String> row : table.rows()) {
      html.append("<tr>");
      for (int c = 0; c < row.size(); c++) {
        cell(html, "td", table, c, row.get(c));
      }
      html.append("</tr>\n");
    }
    html.append("</table>\n");
  }

  private static void cell(
      StringBuilder html, String tag, ReportSection.Table table, int c, String text) {
    html.append('<').append(tag);
    if (table.rightAligned(c)) {
      html.append(" class=\"r\"");
    }
    html.append('>').append(escape(text)).append("</").append(tag).append('>');
  }

  /** Escapes text for an HTML element or a quoted attribute. */
  static String escape(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (char c : text.toCharArray()) {
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&#39;");
        default -> out.append(c);
      }
    }
    return out.toString();
  }
}
