package io.orderpush.gateway.drill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.orderpush.gateway.TestRandom;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;

class DrillReportTest {

  /** Normal 15/s for 30 s, ramp to 1,500/s in 60 s, hold 120 s, down in 60 s, tail 30 s. */
  private static final double NORMAL = 15;

  private static final double PEAK = 1500;
  private static final int[] PHASE_ENDS = {30, 90, 210, 270, 300};
  private static final String[] PHASES = {"normal", "ramp-up", "peak", "ramp-down", "tail"};

  @Test
  void shouldSayAnAppThatKeepsUpKeepsUp() {
    DrillReport report = DrillReport.of(info("finished", null), new App(10_000).run(120));

    assertThat(report.keptUp()).isTrue();
    assertThat(report.capacity()).isGreaterThanOrEqualTo(PEAK);
    assertThat(report.fallsBehindAbove()).isEmpty();
    assertThat(report.verdict())
        .startsWith("Keeps up with 100x of its normal day: 1,500 events/s at the peak, p99 ack");
    assertThat(report.drainS()).hasValue(0);
    assertThat(report.markdown())
        .contains("Capacity: at least 1,500 events/s")
        .contains("Maximum lag: 0 events (every event");
  }

  @Test
  void shouldMeasureTheCapacityOfAConsumerFedThreeTimesWhatItCanTake() {
    DrillReport report = DrillReport.of(info("finished", null), new App(500).run(600));

    assertThat(report.keptUp()).isFalse();
    assertThat(report.capacity()).isCloseTo(500, within(15.0));
    assertThat(report.fallsBehindAbove()).isPresent();
    assertThat(report.fallsBehindAbove().getAsDouble()).isBetween(500.0, 550.0);
    assertThat(report.drainS()).isPresent();
    assertThat(report.maxLag()).isGreaterThan(100_000);
    assertThat(report.verdict())
        .startsWith("Falls behind above 5")
        .contains("its capacity is 500 events/s; at the peak p99 ack time rises to")
        .contains("drained in " + report.drainS().getAsInt() + " s");
  }

  @Test
  void shouldMeasureTheCapacityOfAJitteryConsumerThatAcksASecondLate() {
    TestRandom random = TestRandom.forTest("jittery consumer");
    App app = new App(500);
    app.jitter = random.fork(0);
    app.delayS = 1;
    DrillReport report = DrillReport.of(info("finished", null), app.run(600));

    assertThat(report.capacity()).as(random.toString()).isCloseTo(500, within(15.0));
    assertThat(report.fallsBehindAbove().getAsDouble())
        .as(random.toString())
        .isBetween(450.0, 600.0);
  }

  @Test
  void shouldSayAnAppThatAcknowledgesNothingStalled() {
    DrillReport report = DrillReport.of(info("finished", null), new App(0).run(30));

    assertThat(report.stalled()).isTrue();
    assertThat(report.capacity()).isZero();
    assertThat(report.drainS()).isEmpty();
    assertThat(report.verdict()).startsWith("Stalled: it acknowledged no events at all");
    assertThat(report.markdown())
        .contains("did not drain within the drill")
        .contains("The app stalled: in most of those seconds it acknowledged nothing.");
  }

  @Test
  void shouldSayWhenAnAppStoppedAcknowledging() {
    App app = new App(10_000);
    app.ackingUntil = t -> t < 150;
    DrillReport report = DrillReport.of(info("finished", null), app.run(60));

    assertThat(report.stalled()).isTrue();
    assertThat(report.verdict()).startsWith("Stalled: it acknowledged no events from 150 s on");
  }

  @Test
  void shouldPutTheStopReasonFirstWhenTheDrillWasStoppedEarly() {
    List<DrillSecond> seconds = new App(10_000).run(120).subList(0, 60);
    DrillReport report = DrillReport.of(info("stopped", "stopped by the operator"), seconds);

    assertThat(report.verdict())
        .startsWith("Stopped early: stopped by the operator. Kept up with everything offered")
        .contains("did not reach its peak of 1,500 events/s");
    assertThat(report.summary().getString("state")).isEqualTo("stopped");
  }

  @Test
  void shouldReportADrillThatHasNoSecondsYet() {
    DrillReport report = DrillReport.of(info("running", null), List.of());

    assertThat(report.verdict())
        .isEqualTo(
            "Still running; so far: The drill offered no events, so it says nothing about the app yet.");
    assertThat(report.maxLagAtS()).isEqualTo(-1);
    assertThat(report.markdown()).contains("## Timeline");
    assertThat(report.html()).contains("<svg");
    new JsonObject(report.summary().encode());
  }

  @Test
  void shouldEscapeTheAppNameInHtmlAndMarkdown() {
    DrillInfo info = info("finished", null, "<script>alert('x')</script> & co | evil");
    DrillReport report = DrillReport.of(info, new App(500).run(60));

    String html = report.html();
    assertThat(html).doesNotContain("<script").contains("&lt;script&gt;alert(&#39;x&#39;)");
    assertThat(html).contains("<svg").contains("<polyline").contains("events/s");
    assertThat(report.markdown()).doesNotContain("<script").contains("&lt;script&gt;");
    assertThat(report.markdown()).contains("co \\| evil");
  }

  @Test
  void shouldCompressTheTimelineOfALongDrillToSixtyRows() {
    List<DrillSecond> seconds = new App(300).run(300);
    assertThat(seconds).hasSize(600);
    String md = DrillReport.of(info("finished", null), seconds).markdown();

    String timeline = md.substring(md.indexOf("## Timeline"));
    long rows = timeline.lines().filter(l -> l.startsWith("| ")).count() - 1; // minus the header
    assertThat(rows).isBetween(30L, 60L);
  }

  @Test
  void shouldShowNoRealTrafficWhenTheAppHadNone() {
    App app = new App(10_000);
    app.realPerS = 0;
    String md = DrillReport.of(info("finished", null), app.run(30)).markdown();

    assertThat(md).contains("no real traffic");
  }

  @Test
  void shouldSummariseTheKeyFiguresForTheApi() {
    JsonObject summary = DrillReport.of(info("finished", null), new App(500).run(600)).summary();

    assertThat(summary.getBoolean("keptUp")).isFalse();
    assertThat(summary.getDouble("capacity")).isCloseTo(500, within(15.0));
    assertThat(summary.getDouble("fallsBehindAbove")).isNotNull();
    assertThat(summary.getInteger("drainS")).isNotNull();
    assertThat(summary.getJsonArray("phases")).hasSize(6);
    JsonObject peak = summary.getJsonArray("phases").getJsonObject(2);
    assertThat(peak.getString("phase")).isEqualTo("peak");
    assertThat(peak.getDouble("p99")).isGreaterThan(peak.getDouble("p50"));
    assertThat(summary.getString("verdict")).startsWith("Falls behind above");
    new JsonObject(summary.encode()); // valid JSON: no NaN
  }

  @Test
  void shouldCountCallbackAnswersAndLeaveThemOutForAWebSocketApp() {
    List<DrillSecond> seconds = new App(10_000).run(10);
    DrillReport ws = DrillReport.of(info("finished", null), seconds);
    assertThat(ws.markdown()).doesNotContain("callback answer");

    App failing = new App(10_000);
    failing.fiveHundredsPerS = 3;
    DrillReport cb = DrillReport.of(callbackInfo(), failing.run(10));
    assertThat(cb.callbackStatuses()).containsEntry("5xx", 3L * cb.seconds().size());
    assertThat(cb.retries()).isEqualTo(3L * cb.seconds().size());
    assertThat(cb.markdown()).contains("| 5xx | " + String.format("%,d", 3 * cb.seconds().size()));
  }

  /**
   * A consumer that acks at most {@code capacity} events a second (give or take 10% with {@code
   * jitter}), first in first out, {@code delayS} seconds after they are offered; commit-to-ack
   * latency is the time its events waited.
   */
  private static final class App {
    final double capacity;
    Random jitter;
    int delayS;
    IntPredicate ackingUntil = t -> true;
    long realPerS = 20;
    long fiveHundredsPerS;

    App(double capacity) {
      this.capacity = capacity;
    }

    /** The profile, then up to {@code drainS} seconds of drain (fewer if the backlog empties). */
    List<DrillSecond> run(int drainS) {
      List<DrillSecond> out = new ArrayList<>();
      List<long[]> queue = new ArrayList<>(); // [second offered, events left]
      double owed = 0;
      int end = PHASE_ENDS[PHASE_ENDS.length - 1];
      int idle = 0;
      for (int t = 0; t < end + drainS && idle < 3; t++) {
        idle = t >= end && queue.isEmpty() ? idle + 1 : 0;
        double target = t < end ? target(t) : 0;
        owed += target;
        long offered = (long) Math.floor(owed);
        owed -= offered;
        if (offered > 0) {
          queue.add(new long[] {t, offered});
        }
        double can = jitter == null ? capacity : capacity * (0.9 + 0.2 * jitter.nextDouble());
        long budget = ackingUntil.test(t) ? Math.round(can) : 0;
        LatencyBuckets latency = new LatencyBuckets();
        long acked = 0;
        while (budget > 0 && !queue.isEmpty() && queue.get(0)[0] <= t - delayS) {
          long[] head = queue.get(0);
          long n = Math.min(budget, head[1]);
          latency.add(5 + 1000.0 * (t - head[0]), n);
          acked += n;
          budget -= n;
          head[1] -= n;
          if (head[1] == 0) {
            queue.remove(0);
          }
        }
        LatencyBuckets real = new LatencyBuckets();
        real.add(3, realPerS);
        Map<String, Long> statuses = new TreeMap<>();
        if (fiveHundredsPerS > 0) {
          statuses.put("5xx", fiveHundredsPerS);
        }
        out.add(
            new DrillSecond(
                t,
                t < end ? phase(t) : "drain",
                target,
                offered,
                acked,
                latency,
                real,
                statuses,
                fiveHundredsPerS,
                0,
                0));
      }
      return out;
    }
  }

  private static double target(int t) {
    if (t < PHASE_ENDS[0]) {
      return NORMAL;
    }
    if (t < PHASE_ENDS[1]) {
      return NORMAL + (PEAK - NORMAL) * (t - PHASE_ENDS[0]) / 60.0;
    }
    if (t < PHASE_ENDS[2]) {
      return PEAK;
    }
    if (t < PHASE_ENDS[3]) {
      return PEAK - (PEAK - NORMAL) * (t - PHASE_ENDS[2]) / 60.0;
    }
    return NORMAL;
  }

  private static String phase(int t) {
    int i = 0;
    while (t >= PHASE_ENDS[i]) {
      i++;
    }
    return PHASES[i];
  }

  private static DrillInfo info(String state, String stopReason) {
    return info(state, stopReason, "Shop Helper");
  }

  private static DrillInfo info(String state, String stopReason, String appName) {
    return new DrillInfo(
        "d-42",
        "app-7",
        appName,
        "websocket",
        state,
        stopReason,
        0.01,
        440,
        200_000,
        NORMAL,
        PEAK,
        100,
        5000,
        3600,
        Instant.parse("2026-11-30T09:00:00Z"),
        Instant.parse("2026-11-30T09:10:00Z"));
  }

  private static DrillInfo callbackInfo() {
    DrillInfo i = info("finished", null);
    return new DrillInfo(
        i.drillId(),
        i.appId(),
        i.appName(),
        "callback",
        i.state(),
        i.stopReason(),
        i.scale(),
        i.merchants(),
        i.populationEvents(),
        i.normalRate(),
        i.peakRate(),
        i.multiplier(),
        i.maxRate(),
        i.maxDurationS(),
        i.startedAt(),
        i.endedAt());
  }
}
