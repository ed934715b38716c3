package io.orderpush.gateway.drill;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;

/**
 * What an app drill found, for the ISV: the app's capacity, how far behind it fell and how fast it
 * caught up, latency per phase, errors, and a one-sentence verdict; as Markdown, a self-contained
 * HTML page with the timeline, or the key figures as JSON. Computed once from the drill's seconds;
 * immutable.
 */
public final class DrillReport {

  private final DrillInfo info;
  private final List<DrillSecond> seconds;
  private final Backlog backlog;
  private final List<PhaseFigures> phases;
  private final String verdict;

  private DrillReport(DrillInfo info, List<DrillSecond> seconds) {
    this.info = info;
    this.seconds = seconds;
    this.backlog = Backlog.of(seconds);
    this.phases = PhaseFigures.of(seconds, backlog.lag());
    this.verdict = DrillVerdict.of(this);
  }

  /** The report of a drill whose seconds (any order, one per second) are {@code seconds}. */
  public static DrillReport of(DrillInfo info, List<DrillSecond> seconds) {
    return new DrillReport(
        info, seconds.stream().sorted(Comparator.comparingInt(DrillSecond::t)).toList());
  }

  public DrillInfo info() {
    return info;
  }

  /** The drill's seconds in time order. */
  public List<DrillSecond> seconds() {
    return seconds;
  }

  /** Events waiting after each of {@link #seconds()} (running offered minus acked, at least 0). */
  public long[] lag() {
    return backlog.lag().clone();
  }

  /**
   * The app's sustained rate in events/s: measured while a backlog waited, or, when {@link
   * #keptUp()}, a floor (the highest rate the drill held for 3 s).
   */
  public double capacity() {
    return backlog.capacity();
  }

  /** Whether the backlog stayed bounded and drained: the drill did not find the app's limit. */
  public boolean keptUp() {
    return backlog.keptUp();
  }

  /** Whether the app acknowledged nothing while events waited (capacity 0). */
  public boolean stalled() {
    return backlog.stalled();
  }

  /** The lowest target rate at which the backlog started to grow persistently; empty if none. */
  public OptionalDouble fallsBehindAbove() {
    return backlog.fallsBehindAbove();
  }

  public long maxLag() {
    return backlog.maxLag();
  }

  /** When the lag was largest, seconds since the start (the end of that second); -1 if no data. */
  public int maxLagAtS() {
    return backlog.maxLagIndex() < 0 ? -1 : seconds.get(backlog.maxLagIndex()).t();
  }

  /**
   * Seconds from the end of the profile's last offered second until the lag was back to ~0 (at most
   * 10 events); empty if it did not drain within the drill.
   */
  public OptionalInt drainS() {
    return backlog.drainS();
  }

  /** Seconds the capacity is the median of (0 when kept up). */
  public int capacitySeconds() {
    return backlog.measuredSeconds();
  }

  /** The phases the drill ran, in profile order. */
  public List<PhaseFigures> phases() {
    return phases;
  }

  public Optional<PhaseFigures> phase(String name) {
    return phases.stream().filter(p -> p.phase().equals(name)).findFirst();
  }

  /** Sandbox events acked over the whole drill, with their commit-to-ack latency. */
  public LatencyBuckets sandboxLatency() {
    LatencyBuckets all = new LatencyBuckets();
    phases.forEach(p -> all.add(p.sandbox()));
    return all;
  }

  public long offered() {
    return seconds.stream().mapToLong(DrillSecond::offered).sum();
  }

  public long acked() {
    return seconds.stream().mapToLong(DrillSecond::acked).sum();
  }

  /** Callback answers for sandbox batches by class ({@code 2xx} ... {@code error}), summed. */
  public Map<String, Long> callbackStatuses() {
    Map<String, Long> sum = new LinkedHashMap<>();
    for (String k : List.of("2xx", "3xx", "4xx", "5xx", "timeout", "error")) {
      sum.put(k, 0L);
    }
    seconds.forEach(s -> s.statuses().forEach((k, v) -> sum.merge(k, v, Long::sum)));
    return sum;
  }

  public long retries() {
    return seconds.stream().mapToLong(DrillSecond::retries).sum();
  }

  public long connections() {
    return seconds.stream().mapToLong(DrillSecond::connections).sum();
  }

  public long ackTimeouts() {
    return seconds.stream().mapToLong(DrillSecond::ackTimeouts).sum();
  }

  /** One plain sentence: keeps up, falls behind above N events/s, or stalled. */
  public String verdict() {
    return verdict;
  }

  /** "App drill: name (id), drill id". */
  public String title() {
    return "App drill: " + info.appName() + " (" + info.appId() + "), drill " + info.drillId();
  }

  /** The report an operator hands to the ISV. */
  public String markdown() {
    return ReportMarkdown.render(title(), verdict, DrillReportSections.of(this));
  }

  /** The same report as one self-contained HTML page with the timeline chart. */
  public String html() {
    return ReportHtml.render(
        title(), verdict, TimelineChart.svg(seconds, backlog.lag()), DrillReportSections.of(this));
  }

  /** The key figures for the API; latencies in ms, null when nothing was acked. */
  public JsonObject summary() {
    JsonArray phaseFigures = new JsonArray();
    for (PhaseFigures p : phases) {
      phaseFigures.add(
          new JsonObject()
              .put("phase", p.phase())
              .put("seconds", p.seconds())
              .put("offered", p.offered())
              .put("acked", p.acked())
              .put("maxLag", p.maxLag())
              .put("p50", ms(p.sandbox(), 0.5))
              .put("p99", ms(p.sandbox(), 0.99))
              .put("p999", ms(p.sandbox(), 0.999))
              .put("realP50", ms(p.real(), 0.5))
              .put("realP99", ms(p.real(), 0.99)));
    }
    JsonObject statuses = new JsonObject();
    callbackStatuses().forEach(statuses::put);
    return new JsonObject()
        .put("drillId", info.drillId())
        .put("appId", info.appId())
        .put("state", info.state())
        .put("stopReason", info.stopReason())
        .put("verdict", verdict)
        .put("keptUp", keptUp())
        .put("stalled", stalled())
        .put("capacity", round(capacity()))
        .put(
            "fallsBehindAbove",
            fallsBehindAbove().isPresent() ? round(fallsBehindAbove().getAsDouble()) : null)
        .put("maxLag", maxLag())
        .put("maxLagAtS", maxLagAtS())
        .put("drainS", drainS().isPresent() ? drainS().getAsInt() : null)
        .put("offered", offered())
        .put("acked", acked())
        .put("phases", phaseFigures)
        .put("callbacks", new JsonObject().put("statuses", statuses).put("retries", retries()))
        .put(
            "websocket",
            new JsonObject().put("connections", connections()).put("ackTimeouts", ackTimeouts()));
  }

  private static Double ms(LatencyBuckets b, double q) {
    return b.isEmpty() ? null : round(b.quantile(q));
  }

  private static double round(double v) {
    return Math.round(v * 10) / 10.0;
  }

  /** A latency in ms for text: one decimal below 10 ms; "n/a" when nothing was acked. */
  static String ms(double ms) {
    if (Double.isNaN(ms)) {
      return "n/a";
    }
    return ms < 10
        ? String.format(Locale.ROOT, "%.1f", ms)
        : String.format(Locale.ROOT, "%,.0f", ms);
  }

  static String rate(double eventsPerS) {
    return eventsPerS < 10 && eventsPerS != Math.rint(eventsPerS)
        ? String.format(Locale.ROOT, "%.2f", eventsPerS)
        : String.format(Locale.ROOT, "%,.0f", eventsPerS);
  }

  static String count(long n) {
    return String.format(Locale.ROOT, "%,d", n);
  }
}
