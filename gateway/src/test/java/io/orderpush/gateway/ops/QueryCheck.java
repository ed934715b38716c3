package io.orderpush.gateway.ops;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The PromQL of the dashboard and the alert rules, and the metrics it names. */
final class QueryCheck {

  /**
   * Metric names as they appear in PromQL: not a function (no "(" after), not a label value (no
   * quote before). Label names never start with these prefixes.
   */
  private static final Pattern NAME =
      Pattern.compile(
          "(?<![A-Za-z0-9_:\"])((?:gateway|jvm|process|system)_[a-z0-9_]+|up)(?![A-Za-z0-9_:(\"])");

  private static final List<String> TIMER_SUFFIXES = List.of("_bucket", "_count", "_sum", "_max");

  private QueryCheck() {}

  /** Every "expr" of every panel target of a Grafana dashboard. */
  static List<String> dashboardExprs(Path file) throws IOException {
    List<String> out = new ArrayList<>();
    collect(new JsonObject(Files.readString(file)), out);
    return out;
  }

  private static void collect(Object node, List<String> out) {
    if (node instanceof JsonObject o) {
      o.forEach(
          e -> {
            if (e.getKey().equals("expr") && e.getValue() instanceof String s) {
              out.add(s);
            } else {
              collect(e.getValue(), out);
            }
          });
    } else if (node instanceof JsonArray a) {
      a.forEach(v -> collect(v, out));
    }
  }

  /** Every {@code expr:} of a Prometheus rules file, single-line or a block scalar. */
  static List<String> ruleExprs(Path file) throws IOException {
    List<String> lines = Files.readAllLines(file);
    List<String> out = new ArrayList<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      int at = line.indexOf("expr:");
      if (at < 0 || !line.substring(0, at).isBlank()) {
        continue;
      }
      String value = line.substring(at + "expr:".length()).trim();
      if (value.startsWith("|") || value.startsWith(">")) {
        StringBuilder block = new StringBuilder();
        while (i + 1 < lines.size()
            && (lines.get(i + 1).isBlank() || indent(lines.get(i + 1)) > at)) {
          block.append(lines.get(++i).trim()).append(' ');
        }
        value = block.toString().trim();
      }
      out.add(value);
    }
    return out;
  }

  private static int indent(String line) {
    int n = 0;
    while (n < line.length() && line.charAt(n) == ' ') {
      n++;
    }
    return n;
  }

  /**
   * The expressions that name no metric or one that neither the catalogue nor (for a catalogued
   * group such as jvm_) the running gateway has; each with the reason.
   */
  static List<String> unknownNames(
      List<String> exprs, MetricsCatalogue catalogue, Set<String> exposed) {
    List<String> problems = new ArrayList<>();
    for (String expr : exprs) {
      Matcher m = NAME.matcher(expr);
      boolean any = false;
      while (m.find()) {
        any = true;
        String name = m.group(1);
        if (!known(name, catalogue, exposed)) {
          problems.add(name + " in: " + expr);
        }
      }
      if (!any) {
        problems.add("no metric named in: " + expr);
      }
    }
    return problems;
  }

  private static boolean known(String name, MetricsCatalogue catalogue, Set<String> exposed) {
    if (name.equals("up") || catalogue.metrics().containsKey(name)) {
      return true; // up: Prometheus' own, per scraped target
    }
    for (String suffix : TIMER_SUFFIXES) {
      if (name.endsWith(suffix)) {
        String base = name.substring(0, name.length() - suffix.length());
        MetricsCatalogue.Entry e = catalogue.metrics().get(base);
        if (e != null && (e.type().equals("summary") || e.type().equals("histogram"))) {
          return true;
        }
        if (inGroup(base, catalogue) && exposed.contains(base)) {
          return true;
        }
      }
    }
    return inGroup(name, catalogue) && exposed.contains(name);
  }

  private static boolean inGroup(String name, MetricsCatalogue catalogue) {
    return catalogue.groups().stream().anyMatch(name::startsWith);
  }
}
