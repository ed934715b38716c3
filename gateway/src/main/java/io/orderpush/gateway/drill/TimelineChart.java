package io.orderpush.gateway.drill;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/**
 * The drill's timeline as an inline SVG: target, offered and acked rate over time, and below it the
 * lag, with the profile's phases shaded behind both. Self-contained (no scripts, no fonts).
 */
final class TimelineChart {

  private static final int WIDTH = 960;
  private static final int LEFT = 84;
  private static final int RIGHT = 20;
  private static final int TOP = 44;
  private static final int RATE_HEIGHT = 260;
  private static final int GAP = 64;
  private static final int LAG_HEIGHT = 160;
  private static final int BOTTOM = 44;

  /** Longer drills are averaged into this many points (a line cannot show more anyway). */
  private static final int MAX_POINTS = 900;

  private static final Map<String, String> PHASE_COLOURS =
      Map.of(
          "normal", "#9ecae1",
          "ramp-up", "#fdd0a2",
          "peak", "#fc9272",
          "ramp-down", "#fdd0a2",
          "tail", "#9ecae1",
          "drain", "#d9d9d9");

  private record Point(double t, double target, double offered, double acked, double lag) {}

  private final StringBuilder svg = new StringBuilder();
  private final List<DrillSecond> seconds;
  private final double span;

  private TimelineChart(List<DrillSecond> seconds) {
    this.seconds = seconds;
    this.span = seconds.isEmpty() ? 1 : Math.max(1, seconds.get(seconds.size() - 1).t() + 1);
  }

  static String svg(List<DrillSecond> seconds, long[] lag) {
    return new TimelineChart(seconds).draw(points(seconds, lag));
  }

  private String draw(List<Point> points) {
    int lagTop = TOP + RATE_HEIGHT + GAP;
    int height = lagTop + LAG_HEIGHT + BOTTOM;
    svg.append(
        String.format(
            Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\""
                + " font-family=\"sans-serif\" font-size=\"12\" role=\"img\""
                + " aria-label=\"drill timeline: rates and lag over time\">%n",
            WIDTH,
            height,
            WIDTH,
            height));
    double rateMax =
        niceCeiling(
            points.stream()
                .mapToDouble(p -> Math.max(p.target(), Math.max(p.offered(), p.acked())))
                .max()
                .orElse(1));
    double lagMax = niceCeiling(points.stream().mapToDouble(Point::lag).max().orElse(1));
    phases(TOP, RATE_HEIGHT, true);
    phases(lagTop, LAG_HEIGHT, false);
    axes(TOP, RATE_HEIGHT, rateMax, "events/s");
    axes(lagTop, LAG_HEIGHT, lagMax, "lag (events)");
    line(points, Point::offered, TOP, RATE_HEIGHT, rateMax, "#3182bd", null);
    line(points, Point::acked, TOP, RATE_HEIGHT, rateMax, "#31a354", null);
    line(points, Point::target, TOP, RATE_HEIGHT, rateMax, "#636363", "6 4"); // on top: dashed
    line(points, Point::lag, lagTop, LAG_HEIGHT, lagMax, "#de2d26", null);
    legend();
    text(LEFT + plotWidth() / 2.0, height - 8, "middle", "seconds since the drill started");
    svg.append("</svg>\n");
    return svg.toString();
  }

  private static List<Point> points(List<DrillSecond> seconds, long[] lag) {
    int bucket = Math.max(1, (int) Math.ceil(seconds.size() / (double) MAX_POINTS));
    List<Point> out = new ArrayList<>();
    for (int i = 0; i < seconds.size(); i += bucket) {
      int end = Math.min(seconds.size(), i + bucket);
      List<DrillSecond> b = seconds.subList(i, end);
      long lagMax = 0;
      for (int j = i; j < end; j++) {
        lagMax = Math.max(lagMax, lag[j]);
      }
      out.add(
          new Point(
              b.stream().mapToDouble(s -> s.t() + 0.5).average().orElse(0),
              b.stream().mapToDouble(DrillSecond::target).average().orElse(0),
              b.stream().mapToDouble(DrillSecond::offered).average().orElse(0),
              b.stream().mapToDouble(DrillSecond::acked).average().orElse(0),
              lagMax));
    }
    return out;
  }

  /** Shades each run of seconds in one phase; names the phases above the rate chart. */
  private void phases(int top, int height, boolean labelled) {
    int i = 0;
    while (i < seconds.size()) {
      String phase = seconds.get(i).phase();
      int j = i;
      while (j + 1 < seconds.size() && seconds.get(j + 1).phase().equals(phase)) {
        j++;
      }
      double x0 = x(seconds.get(i).t());
      double x1 = x(seconds.get(j).t() + 1);
      svg.append(
          String.format(
              Locale.ROOT,
              "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\" fill-opacity=\"0.35\"/>%n",
              x0,
              top,
              x1 - x0,
              height,
              PHASE_COLOURS.getOrDefault(phase, "#eeeeee")));
      if (labelled && x1 - x0 > 30) {
        text((x0 + x1) / 2, top - 6, "middle", phase);
      }
      i = j + 1;
    }
  }

  private void axes(int top, int height, double max, String label) {
    double step = niceStep(max / 5);
    for (double v = 0; v <= max + step / 2; v += step) {
      double y = top + height - v / max * height;
      svg.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#cccccc\" stroke-width=\"0.5\"/>%n",
              LEFT,
              y,
              WIDTH - RIGHT,
              y));
      text(LEFT - 6, y + 4, "end", number(v));
    }
    double xStep = niceStep(span / 10);
    for (double t = 0; t <= span; t += xStep) {
      text(x(t), top + height + 16, "middle", number(t));
    }
    svg.append(
        String.format(
            Locale.ROOT,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333333\"/>%n",
            LEFT,
            top,
            plotWidth(),
            height));
    svg.append(
        String.format(
            Locale.ROOT,
            "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">%s</text>%n",
            top + height / 2.0,
            top + height / 2.0,
            ReportHtml.escape(label)));
  }

  private void line(
      List<Point> points,
      ToDoubleFunction<Point> value,
      int top,
      int height,
      double max,
      String colour,
      String dash) {
    if (points.isEmpty()) {
      return;
    }
    svg.append("<polyline fill=\"none\" stroke=\"")
        .append(colour)
        .append("\" stroke-width=\"1.5\"");
    if (dash != null) {
      svg.append(" stroke-dasharray=\"").append(dash).append('"');
    }
    svg.append(" points=\"");
    for (Point p : points) {
      double y = top + height - value.applyAsDouble(p) / max * height;
      svg.append(String.format(Locale.ROOT, "%.1f,%.1f ", x(p.t()), y));
    }
    svg.append("\"/>\n");
  }

  private void legend() {
    String[][] items = {
      {"#636363", "target"}, {"#3182bd", "offered"}, {"#31a354", "acked"}, {"#de2d26", "lag"}
    };
    double x = LEFT;
    for (String[] item : items) {
      svg.append(
          String.format(
              Locale.ROOT,
              "<line x1=\"%.1f\" y1=\"10\" x2=\"%.1f\" y2=\"10\" stroke=\"%s\" stroke-width=\"3\"/>%n",
              x,
              x + 18,
              item[0]));
      text(x + 22, 14, "start", item[1]);
      x += 90;
    }
  }

  private void text(double x, double y, String anchor, String text) {
    svg.append(
        String.format(
            Locale.ROOT,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%s</text>%n",
            x,
            y,
            anchor,
            ReportHtml.escape(text)));
  }

  private double x(double t) {
    return LEFT + t / span * plotWidth();
  }

  private static int plotWidth() {
    return WIDTH - LEFT - RIGHT;
  }

  /** 1, 2 or 5 times a power of ten, at least {@code rough}. */
  static double niceStep(double rough) {
    if (!(rough > 0)) {
      return 1;
    }
    double power = Math.pow(10, Math.floor(Math.log10(rough)));
    for (double m : new double[] {1, 2, 5, 10}) {
      if (m * power >= rough) {
        return m * power;
      }
    }
    return 10 * power;
  }

  private static double niceCeiling(double max) {
    double step = niceStep(Math.max(max, 1) / 5);
    return Math.max(step, Math.ceil(Math.max(max, 1) / step) * step);
  }

  private static String number(double v) {
    return v == Math.rint(v)
        ? String.format(Locale.ROOT, "%,.0f", v)
        : String.format(Locale.ROOT, "%.2g", v);
  }
}
