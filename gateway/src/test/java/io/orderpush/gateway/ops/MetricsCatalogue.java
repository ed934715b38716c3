package io.orderpush.gateway.ops;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * docs/metrics.md read as data: every table row whose first cell is a backticked metric name is an
 * entry ({@code | `name` | type | `label` (`value`, ...), `label` | meaning | what to do |}); a
 * name ending in {@code *} is a group of library metrics (JVM, process), listed by prefix.
 */
record MetricsCatalogue(Map<String, Entry> metrics, List<String> groups) {

  record Entry(String type, Set<String> labels) {}

  private static final Pattern ROW =
      Pattern.compile("^\\|\\s*`([a-z_:][a-z0-9_:]*\\*?)`\\s*\\|(.*)$");
  private static final Pattern BACKTICKED = Pattern.compile("`([a-zA-Z_][a-zA-Z0-9_]*)`");

  static MetricsCatalogue read(Path file) throws IOException {
    Map<String, Entry> metrics = new LinkedHashMap<>();
    List<String> groups = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      Matcher row = ROW.matcher(line);
      if (!row.matches()) {
        continue;
      }
      String name = row.group(1);
      String[] cells = row.group(2).split("\\|");
      if (name.endsWith("*")) {
        groups.add(name.substring(0, name.length() - 1));
        continue;
      }
      if (cells.length < 4) {
        throw new IllegalStateException(
            file + ": the row of " + name + " needs type, labels, meaning and what to do");
      }
      Set<String> labels = new TreeSet<>();
      // Label names in backticks; their values, in parentheses, are for the reader.
      Matcher m = BACKTICKED.matcher(cells[1].replaceAll("\\([^)]*\\)", ""));
      while (m.find()) {
        labels.add(m.group(1));
      }
      if (metrics.put(name, new Entry(cells[0].trim(), labels)) != null) {
        throw new IllegalStateException(file + ": " + name + " is listed twice");
      }
    }
    return new MetricsCatalogue(metrics, groups);
  }

  /** A file of the repository (tests run in the module's directory). */
  static Path repoFile(String path) {
    Path fromModule = Path.of("..").resolve(path);
    return Files.exists(fromModule) ? fromModule : Path.of(path);
  }
}
