package io.orderpush.gateway.drill;

import static io.orderpush.gateway.drill.DrillReport.count;
import static io.orderpush.gateway.drill.DrillReport.ms;
import static io.orderpush.gateway.drill.DrillReport.rate;

import java.util.List;
import java.util.Locale;

/** The report's one plain sentence (two when the drill was stopped early). */
final class DrillVerdict {

  /** The drill "reached its peak" when it held at least this share of the peak rate. */
  private static final double PEAK_REACHED = 0.95;

  private DrillVerdict() {}

  static String of(DrillReport r) {
    DrillInfo info = r.info();
    String stopped =
        "stopped".equals(info.state())
            ? "Stopped early: "
                + (info.stopReason() == null || info.stopReason().isBlank()
                    ? "no reason given"
                    : info.stopReason())
                + ". "
            : "";
    String running = "running".equals(info.state()) ? "Still running; so far: " : "";
    return stopped + running + outcome(r);
  }

  private static String outcome(DrillReport r) {
    if (r.offered() == 0) {
      return "The drill offered no events, so it says nothing about the app yet.";
    }
    if (r.stalled()) {
      int lastAcked = lastAcked(r.seconds());
      String when =
          lastAcked >= 0 && lastAcked + 1 < r.seconds().size()
              ? "from " + r.seconds().get(lastAcked + 1).t() + " s on"
              : lastAcked < 0 ? "at all" : "in most of the seconds in which events waited";
      return String.format(
          Locale.ROOT,
          "Stalled: it acknowledged no events %s while the backlog grew to %s events"
              + " (%s of %s offered events acknowledged).",
          when,
          count(r.maxLag()),
          count(r.acked()),
          count(r.offered()));
    }
    PhaseFigures peak = r.phase("peak").orElse(null);
    double p99 = (peak != null ? peak.sandbox() : r.sandboxLatency()).quantile(0.99);
    if (r.keptUp()) {
      DrillInfo info = r.info();
      if (peak != null && r.capacity() >= PEAK_REACHED * info.peakRate()) {
        return String.format(
            Locale.ROOT,
            "Keeps up with %s of its normal day: %s events/s at the peak, p99 ack %s ms.",
            multiplier(info),
            rate(r.capacity()),
            ms(p99));
      }
      return String.format(
          Locale.ROOT,
          "Kept up with everything offered before the drill ended: %s events/s held, p99 ack %s ms;"
              + " the drill did not reach its peak of %s events/s.",
          rate(r.capacity()),
          ms(p99),
          rate(info.peakRate()));
    }
    String drained =
        r.drainS().isPresent()
            ? "drained in " + r.drainS().getAsInt() + " s"
            : "did not drain within the drill";
    String above =
        r.fallsBehindAbove().isPresent()
            ? "Falls behind above " + rate(r.fallsBehindAbove().getAsDouble()) + " events/s"
            : "Falls behind";
    return String.format(
        Locale.ROOT,
        "%s: its capacity is %s events/s; %s p99 ack time rises to %s ms and the backlog reached"
            + " %s events (%s).",
        above,
        rate(r.capacity()),
        peak != null ? "at the peak" : "during the drill",
        ms(p99),
        count(r.maxLag()),
        drained);
  }

  /** "100x", or the ratio actually run when the operator's maximum rate capped the peak. */
  private static String multiplier(DrillInfo info) {
    double planned = info.normalRate() * info.multiplier();
    if (info.normalRate() > 0 && info.peakRate() < planned * 0.999) {
      return String.format(
          Locale.ROOT,
          "%.0fx (capped by the drill's maximum rate; %.0fx planned)",
          info.peakRate() / info.normalRate(),
          info.multiplier());
    }
    return String.format(Locale.ROOT, "%.0fx", info.multiplier());
  }

  private static int lastAcked(List<DrillSecond> seconds) {
    for (int i = seconds.size() - 1; i >= 0; i--) {
      if (seconds.get(i).acked() > 0) {
        return i;
      }
    }
    return -1;
  }
}
