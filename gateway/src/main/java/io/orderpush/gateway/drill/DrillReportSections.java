package io.orderpush.gateway.drill;

import static io.orderpush.gateway.drill.DrillReport.count;
import static io.orderpush.gateway.drill.DrillReport.ms;
import static io.orderpush.gateway.drill.DrillReport.rate;

import io.orderpush.gateway.drill.ReportSection.Table;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The sections of a drill report, shared by its Markdown and HTML forms. */
final class DrillReportSections {

  /** The timeline table aggregates seconds so it has at most this many rows. */
  static final int MAX_TIMELINE_ROWS = 60;

  private final DrillReport r;

  private DrillReportSections(DrillReport r) {
    this.r = r;
  }

  static List<ReportSection> of(DrillReport r) {
    DrillReportSections s = new DrillReportSections(r);
    List<ReportSection> out = new ArrayList<>();
    out.add(s.settings());
    out.add(s.phases());
    out.add(s.capacity());
    ReportSection errors = s.errors();
    if (errors != null) {
      out.add(errors);
    }
    out.add(s.lagAndDrain());
    out.add(s.realChannels());
    out.add(s.timeline());
    return out;
  }

  private ReportSection settings() {
    DrillInfo i = r.info();
    List<List<String>> rows = new ArrayList<>();
    rows.add(List.of("drill", i.drillId()));
    rows.add(List.of("app", i.appName() + " (" + i.appId() + ")"));
    rows.add(List.of("transport", i.transport()));
    rows.add(List.of("state", i.state()));
    if (i.stopReason() != null) {
      rows.add(List.of("stopped because", i.stopReason()));
    }
    rows.add(List.of("started", String.valueOf(i.startedAt())));
    rows.add(List.of("ended", i.endedAt() == null ? "-" : i.endedAt().toString()));
    rows.add(List.of("seconds recorded", count(r.seconds().size())));
    rows.add(List.of("scale", plain(i.scale())));
    rows.add(List.of("sandbox merchants", count(i.merchants())));
    rows.add(List.of("population", count(i.populationEvents()) + " events"));
    rows.add(List.of("normal rate", rate(i.normalRate()) + " events/s"));
    rows.add(
        List.of(
            "peak rate",
            rate(i.peakRate()) + " events/s (multiplier " + plain(i.multiplier()) + "x)"));
    rows.add(List.of("maximum rate (operator)", rate(i.maxRate()) + " events/s"));
    rows.add(List.of("maximum duration (operator)", count(i.maxDurationS()) + " s"));
    rows.add(
        List.of(
            "offered / acknowledged", count(r.offered()) + " / " + count(r.acked()) + " events"));
    return ReportSection.of(
        "Settings", List.of(), new Table(List.of("setting", "value"), "ll", rows));
  }

  private ReportSection phases() {
    List<List<String>> rows = new ArrayList<>();
    for (PhaseFigures p : r.phases()) {
      boolean real = !p.real().isEmpty();
      rows.add(
          List.of(
              p.phase(),
              count(p.seconds()),
              count(p.offered()),
              count(p.acked()),
              rate(p.offeredRate()),
              rate(p.ackedRate()),
              count(p.maxLag()),
              ms(p.sandbox().quantile(0.5)),
              ms(p.sandbox().quantile(0.99)),
              ms(p.sandbox().quantile(0.999)),
              real ? ms(p.real().quantile(0.5)) : "no real traffic",
              real ? ms(p.real().quantile(0.99)) : "-"));
    }
    Table table =
        new Table(
            List.of(
                "phase",
                "s",
                "offered",
                "acked",
                "offered/s",
                "acked/s",
                "max lag",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "real p50 ms",
                "real p99 ms"),
            "lrrrrrrrrrrr",
            rows);
    return ReportSection.of(
        "Per phase",
        List.of(
            "Latency is commit-to-ack: from the drill's event being committed to the log until the"
                + " app acknowledged it (WebSocket ack or callback 2xx). Real: the app's own"
                + " merchants' events in the same seconds."),
        table);
  }

  private ReportSection capacity() {
    List<String> text = new ArrayList<>();
    if (r.keptUp()) {
      text.add(
          String.format(
              Locale.ROOT,
              "Capacity: at least %s events/s, the highest rate the drill held for %d s. The app"
                  + " kept up: its backlog never stayed above %.0f s of the target rate (at least"
                  + " %d events) and drained within %d s after the profile ended, so the drill did"
                  + " not find its limit.",
              rate(r.capacity()),
              Backlog.HELD_S,
              Backlog.BOUND_S,
              Backlog.FLOOR_EVENTS,
              Backlog.KEPT_UP_DRAIN_S));
      return ReportSection.of("Capacity", text);
    }
    text.add(
        String.format(
            Locale.ROOT,
            "Capacity: %s events/s, the median acknowledged rate over %d seconds in which a"
                + " backlog waited (lag above %.0f s of the target rate, at least %d events, at the"
                + " start and end of the second; the first %d such seconds are left out as"
                + " warm-up). While events wait, the app acknowledges as fast as it can, whatever"
                + " the drill offers.",
            rate(r.capacity()),
            r.capacitySeconds(),
            Backlog.BOUND_S,
            Backlog.FLOOR_EVENTS,
            Backlog.WARM_UP_S));
    if (r.stalled()) {
      text.add("The app stalled: in most of those seconds it acknowledged nothing.");
    }
    if (r.fallsBehindAbove().isPresent()) {
      text.add(
          "The backlog started to grow persistently at a target rate of "
              + rate(r.fallsBehindAbove().getAsDouble())
              + " events/s.");
    }
    return ReportSection.of("Capacity", text);
  }

  /** Callback answers and retries, WebSocket reconnects; null when there is nothing to say. */
  private ReportSection errors() {
    boolean callback = "callback".equals(r.info().transport());
    Map<String, Long> statuses = r.callbackStatuses();
    boolean anyCallback = r.retries() > 0 || statuses.values().stream().anyMatch(v -> v > 0);
    List<String> text = new ArrayList<>();
    List<Table> tables = new ArrayList<>();
    if (callback || anyCallback) {
      List<List<String>> rows = new ArrayList<>();
      statuses.forEach((k, v) -> rows.add(List.of(k, count(v))));
      tables.add(new Table(List.of("callback answer", "batches"), "lr", rows));
      text.add(
          "Callback batches sent again after a failure (retries): " + count(r.retries()) + ".");
    }
    if (!callback || r.connections() + r.ackTimeouts() > 0) {
      text.add(
          "WebSocket connections the app opened: "
              + count(r.connections())
              + "; connections closed for leaving events unacknowledged too long: "
              + count(r.ackTimeouts())
              + ".");
    }
    if (text.isEmpty()) {
      return null;
    }
    return new ReportSection("Errors, retries and reconnects", text, tables);
  }

  private ReportSection lagAndDrain() {
    List<String> text = new ArrayList<>();
    int at = r.maxLagAtS();
    text.add(
        r.maxLag() == 0
            ? "Maximum lag: 0 events (every event was acknowledged within the second it was"
                + " offered)."
            : "Maximum lag: "
                + count(r.maxLag())
                + " events, after second "
                + at
                + " ("
                + phaseAt(at)
                + ").");
    long[] lag = r.lag();
    long left = lag.length == 0 ? 0 : lag[lag.length - 1];
    text.add(
        r.drainS().isPresent()
            ? "Time to drain after the profile's last offered second: "
                + r.drainS().getAsInt()
                + " s (lag back to at most "
                + Backlog.DRAINED_EVENTS
                + " events)."
            : "The backlog did not drain within the drill: "
                + count(left)
                + " events were still waiting at its end.");
    return ReportSection.of("Lag and drain", text);
  }

  private ReportSection realChannels() {
    LatencyBuckets normal = new LatencyBuckets();
    LatencyBuckets loaded = new LatencyBuckets();
    for (PhaseFigures p : r.phases()) {
      (p.phase().equals("normal") ? normal : loaded).add(p.real());
    }
    LatencyBuckets peak = r.phase("peak").map(PhaseFigures::real).orElseGet(LatencyBuckets::new);
    List<List<String>> rows = new ArrayList<>();
    rows.add(realRow("normal phase (before the load)", normal));
    rows.add(realRow("peak", peak));
    rows.add(realRow("ramp-up to the end of the drill", loaded));
    return ReportSection.of(
        "The app's real channels during the drill",
        List.of(
            "Commit-to-ack latency of the app's own merchants' events while the drill ran: the"
                + " drill must not slow them down. Compare the load with the normal phase."),
        new Table(List.of("seconds", "events acked", "p50 ms", "p99 ms"), "lrrr", rows));
  }

  private static List<String> realRow(String what, LatencyBuckets b) {
    if (b.isEmpty()) {
      return List.of(what, "0", "no real traffic", "-");
    }
    return List.of(what, count(b.count()), ms(b.quantile(0.5)), ms(b.quantile(0.99)));
  }

  private ReportSection timeline() {
    List<DrillSecond> seconds = r.seconds();
    long[] lag = r.lag();
    int bucket = Math.max(1, (int) Math.ceil(seconds.size() / (double) MAX_TIMELINE_ROWS));
    List<List<String>> rows = new ArrayList<>();
    for (int i = 0; i < seconds.size(); i += bucket) {
      int end = Math.min(seconds.size(), i + bucket);
      List<DrillSecond> b = seconds.subList(i, end);
      DrillSecond first = b.get(0);
      DrillSecond last = b.get(b.size() - 1);
      LatencyBuckets latency = new LatencyBuckets();
      long maxLag = 0;
      for (int j = i; j < end; j++) {
        latency.add(seconds.get(j).sandboxLatency());
        maxLag = Math.max(maxLag, lag[j]);
      }
      rows.add(
          List.of(
              b.size() == 1 ? Integer.toString(first.t()) : first.t() + "-" + last.t(),
              first.phase().equals(last.phase())
                  ? first.phase()
                  : first.phase() + " to " + last.phase(),
              rate(b.stream().mapToDouble(DrillSecond::target).average().orElse(0)),
              rate(b.stream().mapToDouble(DrillSecond::offered).average().orElse(0)),
              rate(b.stream().mapToDouble(DrillSecond::acked).average().orElse(0)),
              count(lag[end - 1]),
              count(maxLag),
              ms(latency.quantile(0.99))));
    }
    return ReportSection.of(
        "Timeline",
        List.of(
            bucket
                + " s per row: rates are averages over the row's seconds, lag at its end and its"
                + " largest, p99 over all its acks."),
        new Table(
            List.of("s", "phase", "target/s", "offered/s", "acked/s", "lag", "max lag", "p99 ms"),
            "llrrrrrr",
            rows));
  }

  private static String plain(double v) {
    return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
  }

  private String phaseAt(int t) {
    return r.seconds().stream()
        .filter(s -> s.t() == t)
        .map(DrillSecond::phase)
        .findFirst()
        .orElse("-");
  }
}
