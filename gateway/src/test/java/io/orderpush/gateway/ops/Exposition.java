package io.orderpush.gateway.ops;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The metric families of a Prometheus text exposition, named as PromQL queries them: a counter with
 * its {@code _total}, a timer or summary by its base name (its {@code _max} gauge folded in).
 */
final class Exposition {

  /** A family: its type and the label names of its samples (without quantile and le). */
  record Family(String type, Set<String> labels) {}

  private static final Pattern LABEL =
      Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

  private Exposition() {}

  static Map<String, Family> parse(String text) {
    Map<String, Family> raw = new LinkedHashMap<>();
    Family current = null;
    for (String line : text.split("\n")) {
      if (line.startsWith("# TYPE ")) {
        String[] parts = line.split(" ");
        current = new Family(parts[3], new TreeSet<>());
        raw.put(parts[2], current);
      } else if (!line.isBlank() && !line.startsWith("#") && current != null) {
        int brace = line.indexOf('{');
        if (brace >= 0) {
          Matcher m = LABEL.matcher(line.substring(brace, line.lastIndexOf('}') + 1));
          while (m.find()) {
            if (!m.group(1).equals("quantile") && !m.group(1).equals("le")) {
              current.labels().add(m.group(1));
            }
          }
        }
      }
    }
    Map<String, Family> out = new LinkedHashMap<>();
    raw.forEach(
        (name, f) -> {
          if (f.type().equals("counter") && !name.endsWith("_total")) {
            out.put(name + "_total", f);
          } else if (f.type().equals("gauge")
              && name.endsWith("_max")
              && isTimer(raw, base(name))) {
            return; // the timer's running maximum: part of its family
          } else {
            out.put(name, f);
          }
        });
    return out;
  }

  private static String base(String name) {
    return name.substring(0, name.length() - "_max".length());
  }

  private static boolean isTimer(Map<String, Family> raw, String name) {
    Family f = raw.get(name);
    return f != null && (f.type().equals("summary") || f.type().equals("histogram"));
  }
}
