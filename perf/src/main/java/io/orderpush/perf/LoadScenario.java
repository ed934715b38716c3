package io.orderpush.perf;

import io.orderpush.drill.AdminClient;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.HdrHistogram.Histogram;

/**
 * The {@code live} and {@code sustained} scenarios: fresh merchants, one app granted all of them
 * (start=latest), a consumer group of a few connections, and open-model ingest at a set rate.
 *
 * <p>A step is bounded when ingest achieved at least 95% of its target rate with no 503 and the lag
 * (events stored minus events applied and acked by the consumer) at its end is at most one second's
 * worth of the target rate.
 */
final class LoadScenario {

  private record Snap(
      long nanos,
      long wallMs,
      long stored,
      long applied,
      long missed,
      long rejected,
      long requests) {
    long lag() {
      return stored - applied;
    }
  }

  private final StreamBench b;
  private final boolean sustained;
  private StreamConsumer consumer;
  private RateIngester ingest;

  LoadScenario(StreamBench bench, boolean sustained) {
    this.b = bench;
    this.sustained = sustained;
  }

  void run() throws Exception {
    StreamArgs a = b.args();
    int merchants = a.integer("merchants", 1000);
    int connections = a.integer("connections", 4);
    int batch = a.integer("batch", sustained ? 100 : 50);
    int warmup = a.integer("warmup", 15);
    int maxInFlight = a.integer("max-in-flight", 256);
    int drainTimeout = a.integer("drain-timeout", 120);
    String runId = Long.toString(System.currentTimeMillis(), 36);
    String prefix = a.str("prefix", "sb-" + runId + "-");
    List<Integer> rates =
        sustained
            ? a.integers("rates", "10000,15000,20000,25000,30000")
            : List.of(a.integer("rate", 5000));
    int seconds = sustained ? a.integer("step", 30) : a.integer("duration", 60);
    List<String> scopes = a.scopes();
    int stopAfter = sustained ? Integer.parseInt(a.str("stop-after", "0")) : 0;
    int ingestNodes = Math.min(a.integer("ingest-nodes", b.bases().size()), b.bases().size());
    a.checkAllUsed();
    if (merchants > 9999) {
      throw new IllegalArgumentException("--merchants must be at most 9999");
    }

    EventFactory factory = new EventFactory(runId, prefix, merchants, 42);
    List<String> ids = StreamBench.merchantIds(factory, merchants);
    AdminClient.App app =
        StreamBench.await(
            b.operator()
                .createApp(
                    "stream-bench-" + a.scenario + "-" + runId,
                    new JsonObject().put("mode", "websocket")));
    long t = System.nanoTime();
    StreamBench.await(b.operator().grantAll(app.appId(), ids, "latest", scopes, 16));
    StreamBench.println(
        "app %s granted %d merchants (%s0000..), scopes %s, in %.1f s; connecting %d consumer"
            + " connections to %d node(s)",
        app.appId(),
        merchants,
        prefix,
        scopes,
        (System.nanoTime() - t) / 1e9,
        connections,
        b.bases().size());
    consumer = new StreamConsumer(b.vertx(), b.bases(), app.token(), ids);
    StreamBench.await(consumer.connect(connections));
    // Until exactly every merchant is held once: while connections join, a merchant moving from one
    // connection to another can be counted on both (its "assigned" on the new socket read before
    // the "unassigned" on the old one).
    for (int i = 0; i < 300 && consumer.assignedTotal() != merchants; i++) {
      Thread.sleep(100);
    }
    if (consumer.assignedTotal() != merchants) {
      b.error("only %d of %d merchants assigned after 30 s", consumer.assignedTotal(), merchants);
    }
    Thread.sleep(1000); // the claims in Redis
    ingest =
        new RateIngester(
            b.vertx(),
            b.bases().subList(0, ingestNodes),
            StreamArgs.env("GATEWAY_INGEST_TOKEN"),
            factory,
            merchants,
            batch,
            maxInFlight);
    JsonObject res =
        b.result()
            .put("scenario", a.scenario)
            .put("appId", app.appId())
            .put("merchants", merchants)
            .put("connections", connections)
            .put("batch", batch)
            .put("warmupS", warmup);

    double warmRate = sustained ? rates.get(0) / 2.0 : rates.get(0);
    StreamBench.println("warm-up: %d s at %,.0f events/s (not measured)", warmup, warmRate);
    ingest.setRate(warmRate);
    run(warmup, 5);
    consumer.latencyMicros.getIntervalHistogram();
    ingest.latencyMicros.getIntervalHistogram();
    consumer.measuring = true;
    ingest.measuring = true;
    JsonArray steps = new JsonArray();
    int highestBounded = 0;
    boolean allBounded = true;
    int unboundedInARow = 0;
    for (int rate : rates) {
      if (stopAfter > 0 && unboundedInARow >= stopAfter) {
        StreamBench.println(
            "stopping: %d unbounded steps in a row (--stop-after=%d)", unboundedInARow, stopAfter);
        break;
      }
      Snap s0 = snap();
      ingest.setRate(rate);
      long maxLag = run(seconds, sustained ? 5 : 10);
      Snap s1 = snap();
      double dt = (s1.nanos - s0.nanos) / 1e9;
      Histogram lat = consumer.latencyMicros.getIntervalHistogram();
      Histogram il = ingest.latencyMicros.getIntervalHistogram();
      double ingestRate = (s1.stored - s0.stored) / dt;
      double deliveredRate = (s1.applied - s0.applied) / dt;
      long rejected = s1.rejected - s0.rejected;
      boolean bounded = ingestRate >= 0.95 * rate && rejected == 0 && s1.lag() <= rate;
      allBounded &= bounded;
      unboundedInARow = bounded ? 0 : unboundedInARow + 1;
      if (allBounded) {
        highestBounded = rate;
      }
      JsonObject step =
          new JsonObject()
              .put("targetPerS", rate)
              .put("seconds", StreamBench.round(dt, 1))
              .put("ingestedPerS", Math.round(ingestRate))
              .put("deliveredPerS", Math.round(deliveredRate))
              .put("lagStart", s0.lag())
              .put("lagEnd", s1.lag())
              .put("lagMax", maxLag)
              .put("missed", s1.missed - s0.missed)
              .put("rejected503", rejected)
              .put("ingestRequestsPerS", Math.round((s1.requests - s0.requests) / dt))
              .put("commitToArrival", StreamBench.percentiles(lat))
              .put("ingestLatency", StreamBench.percentiles(il))
              .put("bounded", bounded)
              .put("fromMs", s0.wallMs)
              .put("toMs", s1.wallMs);
      steps.add(step);
      StreamBench.println(
          "STEP target %,d/s: ingested %,.0f/s, delivered %,.0f/s, lag %,d -> %,d (max %,d), missed %,d,"
              + " 503 %,d; commit->arrival p50 %.1f p99 %.1f p999 %.1f max %.1f ms; ingest p50 %.1f p99 %.1f ms; %s",
          rate,
          ingestRate,
          deliveredRate,
          s0.lag(),
          s1.lag(),
          maxLag,
          s1.missed - s0.missed,
          rejected,
          lat.getValueAtPercentile(50) / 1e3,
          lat.getValueAtPercentile(99) / 1e3,
          lat.getValueAtPercentile(99.9) / 1e3,
          lat.getMaxValue() / 1e3,
          il.getValueAtPercentile(50) / 1e3,
          il.getValueAtPercentile(99) / 1e3,
          bounded ? "bounded" : "NOT bounded");
      StreamBench.row(
          "step",
          rate,
          Math.round(ingestRate),
          Math.round(deliveredRate),
          s0.lag(),
          s1.lag(),
          maxLag,
          s1.missed - s0.missed,
          rejected,
          ms(lat, 50),
          ms(lat, 99),
          ms(lat, 99.9),
          ms(lat, 100),
          ms(il, 50),
          ms(il, 99),
          ms(il, 100),
          bounded ? "yes" : "NO",
          s0.wallMs,
          s1.wallMs);
    }
    consumer.measuring = false;
    ingest.measuring = false;
    if (sustained) {
      res.put("steps", steps).put("highestBoundedPerS", highestBounded).put("stepS", seconds);
    } else {
      res.mergeIn(steps.getJsonObject(0));
    }
    finish(drainTimeout, factory, merchants);
  }

  /**
   * Lets the load run for {@code seconds}, printing progress every {@code every} s; returns the max
   * lag seen.
   */
  private long run(int seconds, int every) throws InterruptedException {
    long start = System.nanoTime();
    long maxLag = 0;
    Snap prev = snap();
    for (int i = 1; i <= seconds; i++) {
      long wake = start + TimeUnit.SECONDS.toNanos(i);
      Thread.sleep(Math.max(0, (wake - System.nanoTime()) / 1_000_000));
      Snap s = snap();
      maxLag = Math.max(maxLag, s.lag());
      if (i % every == 0 || i == seconds) {
        double dt = (s.nanos - prev.nanos) / 1e9;
        StreamBench.println(
            "  %3d s: ingested %,7.0f/s delivered %,7.0f/s lag %,8d  in-flight %3d missed %,d 503 %,d",
            i,
            (s.stored - prev.stored) / dt,
            (s.applied - prev.applied) / dt,
            s.lag(),
            ingest.inFlight,
            s.missed,
            s.rejected);
        prev = s;
      }
    }
    return maxLag;
  }

  /**
   * Stops ingest, waits until the consumer has applied everything stored, checks every merchant's
   * last seq.
   */
  private void finish(int drainTimeout, EventFactory factory, int merchants) throws Exception {
    ingest.stop().get(70, TimeUnit.SECONDS);
    long stored = ingest.stored;
    long t0 = System.nanoTime();
    Snap s = snap();
    try {
      consumer.whenApplied(stored).get(drainTimeout, TimeUnit.SECONDS);
      StreamBench.println(
          "ingest stopped with lag %,d; consumer caught up in %.2f s",
          s.lag(), (System.nanoTime() - t0) / 1e9);
    } catch (TimeoutException e) {
      b.error(
          "consumer applied %,d of %,d stored events %d s after ingest stopped",
          consumer.applied, stored, drainTimeout);
    }
    long[] heads = ingest.maxSeqs().get();
    Map<String, Long> last = consumer.lastApplied().get();
    // Events of a request answered 503 on a timeout may have been committed after all (and are
    // delivered), so "applied >= stored" can come before every merchant is done: wait for the
    // heads.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(drainTimeout);
    while (behind(heads, last, factory, merchants) > 0 && System.nanoTime() < deadline) {
      Thread.sleep(200);
      last = consumer.lastApplied().get();
    }
    int wrong = 0;
    for (int m = 0; m < merchants; m++) {
      long got = last.getOrDefault(factory.merchantId(m), 0L);
      if (got != heads[m] && ++wrong <= 10) {
        b.error(
            "merchant %s: last applied seq %d, ingest answered up to %d",
            factory.merchantId(m), got, heads[m]);
      }
    }
    StreamBench.println(
        "total: %,d events stored in %,d requests, %,d applied, %,d redelivered (%,d acks refused), %,d missed, %,d refused (503);"
            + " consumer errors %d, ingest errors %d, merchants with a wrong last seq %d",
        stored,
        ingest.requests,
        consumer.applied,
        consumer.redelivered,
        consumer.refusedAcks,
        ingest.missed,
        ingest.rejected503,
        consumer.errors,
        ingest.errors,
        wrong);
    b.result()
        .put("stored", stored)
        .put("applied", consumer.applied)
        .put("redelivered", consumer.redelivered)
        .put("refusedAcks", consumer.refusedAcks)
        .put("consumerErrors", consumer.errors)
        .put("ingestErrors", ingest.errors)
        .put("wrongLastSeq", wrong)
        .put("catchUpS", StreamBench.round((System.nanoTime() - t0) / 1e9, 2));
    b.countErrors(consumer.errors + ingest.errors);
    StreamBench.await(consumer.close());
  }

  private static int behind(
      long[] heads, Map<String, Long> last, EventFactory factory, int merchants) {
    int n = 0;
    for (int m = 0; m < merchants; m++) {
      if (last.getOrDefault(factory.merchantId(m), 0L) < heads[m]) {
        n++;
      }
    }
    return n;
  }

  private static double ms(Histogram h, double percentile) {
    return StreamBench.round(
        (percentile >= 100 ? h.getMaxValue() : h.getValueAtPercentile(percentile)) / 1000.0, 1);
  }

  private Snap snap() {
    return new Snap(
        System.nanoTime(),
        System.currentTimeMillis(),
        ingest == null ? 0 : ingest.stored,
        consumer.applied,
        ingest == null ? 0 : ingest.missed,
        ingest == null ? 0 : ingest.rejected503,
        ingest == null ? 0 : ingest.requests);
  }
}
