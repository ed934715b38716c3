package io.orderpush.perf;

import io.nats.client.Connection;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamOptions;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * The NATS JetStream baseline of perf/stream-bench.sh: the {@code live} and {@code sustained}
 * shapes of {@link StreamBench} against a private nats-server, so the script can print the
 * gateway's figures beside JetStream's from the same invocation.
 *
 * <p>A fresh stream (file storage, the server's default sync: no fsync per message) takes {@code
 * orders.>}; {@link JetStreamPublisher} publishes at a set rate in bursts of {@code batch} over
 * {@code merchants} subjects; {@link JetStreamConsumers} consumes on {@code connections} durable
 * pull consumers with explicit acks. Lag = messages stored (PubAck received) minus messages applied
 * and acked. A step is bounded as in {@link LoadScenario}: at least 95% of the target stored, no
 * failed publish, and a lag at its end of at most one second of the target rate. With {@code
 * extend-to}, sustained adds steps 25% apart after the last one while every step was bounded, up to
 * that rate, so JetStream's ceiling is found rather than capped by the gateway's steps.
 *
 * <p>Lag can dip below zero by a few messages: a consumer may receive a message before its PubAck
 * reaches the publisher.
 *
 * <p>Prints progress, {@code STEP} lines, {@code ROW step} lines with StreamBench's columns (the
 * latency columns are publish-to-receipt, the ingest columns due-to-PubAck) followed by
 * store-to-receipt p50, p99 and p99.9, and a {@code RESULT_JSON} line; exit status 1 if any check
 * failed.
 */
public final class JetStreamBench {

  static final String USAGE =
      """
      usage: JetStreamBench <live|sustained> [--name=value ...]
        common:    url (nats://127.0.0.1:4222), merchants (1000 subjects), connections (4 consumers),
                   warmup (15 s; sustained: at the first rate / 2), max-in-flight (256 bursts),
                   drain-timeout (120 s), max-ack-pending (20000 per consumer), fetch-batch (1000)
        live:      rate (5000 messages/s), batch (50), duration (60 s)
        sustained: rates (10000,15000,20000,25000,30000), step (30 s), batch (100),
                   extend-to (0: off; else further steps 25% apart while all were bounded)""";

  private record Snap(
      long nanos, long wallMs, long stored, long applied, long missed, long failed, long bursts) {
    long lag() {
      return stored - applied;
    }
  }

  private final JsonObject result = new JsonObject();
  private JetStreamPublisher pub;
  private JetStreamConsumers consumers;
  private long errors;

  public static void main(String[] argv) throws Exception {
    int status;
    try {
      JetStreamBench bench = new JetStreamBench();
      bench.run(new StreamArgs(argv, USAGE, List.of("live", "sustained")));
      System.out.println("RESULT_JSON " + bench.result.put("errors", bench.errors).encode());
      status = bench.errors == 0 ? 0 : 1;
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      status = 2;
    } catch (Exception e) {
      // the client's threads would keep the JVM, and the script waiting on it, alive
      e.printStackTrace();
      status = 1;
    }
    System.exit(status);
  }

  private void run(StreamArgs a) throws Exception {
    boolean sustained = a.scenario.equals("sustained");
    String url = a.str("url", "nats://127.0.0.1:4222");
    int merchants = a.integer("merchants", 1000);
    int connections = a.integer("connections", 4);
    int batch = a.integer("batch", sustained ? 100 : 50);
    int warmup = a.integer("warmup", 15);
    int maxInFlight = a.integer("max-in-flight", 256);
    int drainTimeout = a.integer("drain-timeout", 120);
    int maxAckPending = a.integer("max-ack-pending", 20_000);
    int fetchBatch = a.integer("fetch-batch", 1000);
    List<Integer> rates =
        new ArrayList<>(
            sustained
                ? a.integers("rates", "10000,15000,20000,25000,30000")
                : List.of(a.integer("rate", 5000)));
    int seconds = sustained ? a.integer("step", 30) : a.integer("duration", 60);
    int extendTo = sustained ? Integer.parseInt(a.str("extend-to", "0")) : 0;
    a.checkAllUsed();
    if (merchants > 9999) {
      throw new IllegalArgumentException("--merchants must be at most 9999");
    }

    String runId = Long.toString(System.currentTimeMillis(), 36);
    String stream = "ORDERS_" + runId.toUpperCase();
    EventFactory factory = new EventFactory(runId, "m", merchants, 42);
    String[] subjects = new String[merchants];
    for (int m = 0; m < merchants; m++) {
      subjects[m] = JetStreamPublisher.subject(m % connections, factory.merchantId(m));
    }
    Connection pubConn = connect(url, "publisher");
    List<Connection> subConns = new ArrayList<>();
    for (int i = 0; i < connections; i++) {
      subConns.add(connect(url, "consumer-" + i));
    }
    JetStreamManagement jsm = pubConn.jetStreamManagement();
    jsm.addStream(
        StreamConfiguration.builder()
            .name(stream)
            .subjects("orders.>")
            .storageType(StorageType.File)
            .build());
    StreamBench.println(
        "stream %s (file storage, nats-server %s; JetStream does not fsync each message by default:"
            + " its file store writes each message to the page cache and fsyncs every 60 s in"
            + " v2.9, every 2 min later; the gateway acks after a commit with"
            + " synchronous_commit=on); %d subjects orders.<consumer>.<merchant>, %d durable pull"
            + " consumers, explicit acks",
        stream, pubConn.getServerInfo().getVersion(), merchants, connections);
    consumers = new JetStreamConsumers(merchants);
    consumers.start(jsm, stream, subConns, maxAckPending, fetchBatch);
    pub =
        new JetStreamPublisher(
            pubConn.jetStream(
                JetStreamOptions.builder().requestTimeout(Duration.ofSeconds(60)).build()),
            factory,
            subjects,
            merchants,
            batch,
            maxInFlight);
    result
        .put("scenario", a.scenario)
        .put("system", "jetstream")
        .put("serverVersion", pubConn.getServerInfo().getVersion())
        .put("stream", stream)
        .put("merchants", merchants)
        .put("connections", connections)
        .put("batch", batch)
        .put("warmupS", warmup)
        .put("fsyncPerMessage", false);

    double warmRate = sustained ? rates.get(0) / 2.0 : rates.get(0);
    StreamBench.println("warm-up: %d s at %,.0f messages/s (not measured)", warmup, warmRate);
    pub.setRate(warmRate);
    run(warmup, 5);
    consumers.publishToReceiptMicros.getIntervalHistogram();
    consumers.storeToReceiptMicros.getIntervalHistogram();
    pub.ackLatencyMicros.getIntervalHistogram();
    consumers.measuring = true;
    pub.measuring = true;
    JsonArray steps = new JsonArray();
    int highestBounded = 0;
    boolean allBounded = true;
    for (int i = 0; i < rates.size(); i++) {
      int rate = rates.get(i);
      boolean bounded = step(rate, seconds, sustained, steps);
      allBounded &= bounded;
      if (allBounded) {
        highestBounded = rate;
      }
      if (i == rates.size() - 1 && allBounded && rate < extendTo) {
        int next = Math.min(extendTo, (int) Math.round(rate * 1.25 / 1000) * 1000);
        StreamBench.println("every step bounded: adding a step at %,d messages/s", next);
        rates.add(next);
      }
    }
    consumers.measuring = false;
    pub.measuring = false;
    if (sustained) {
      result
          .put("steps", steps)
          .put("highestBoundedPerS", highestBounded)
          .put("stepS", seconds)
          .put("rates", new JsonArray(rates));
    } else {
      result.mergeIn(steps.getJsonObject(0));
    }
    finish(drainTimeout, merchants, jsm, stream);
    for (Connection c : subConns) {
      c.close(); // before deleting the stream: pulls still open would log "Consumer Deleted"
    }
    try {
      jsm.deleteStream(stream);
    } catch (java.io.IOException e) {
      // a stream of gigabytes can take longer than the request timeout to delete: the script stops
      // the server and removes its store anyway; the figures above stand
      System.out.println("  (the stream was not deleted in time: " + e.getMessage() + ")");
    }
    pubConn.close();
  }

  private static Connection connect(String url, String name) throws Exception {
    return Nats.connect(
        new Options.Builder()
            .server(url)
            .connectionName("jetstream-bench-" + name)
            .maxMessagesInOutgoingQueue(200_000)
            .noReconnect()
            .build());
  }

  /** One measured step at {@code rate}; returns whether it was bounded. */
  private boolean step(int rate, int seconds, boolean sustained, JsonArray steps) throws Exception {
    Snap s0 = snap();
    pub.setRate(rate);
    long maxLag = run(seconds, sustained ? 5 : 10);
    Snap s1 = snap();
    double dt = (s1.nanos - s0.nanos) / 1e9;
    Histogram lat = consumers.publishToReceiptMicros.getIntervalHistogram();
    Histogram store = consumers.storeToReceiptMicros.getIntervalHistogram();
    Histogram ack = pub.ackLatencyMicros.getIntervalHistogram();
    double storedRate = (s1.stored - s0.stored) / dt;
    double deliveredRate = (s1.applied - s0.applied) / dt;
    long failed = s1.failed - s0.failed;
    boolean bounded = storedRate >= 0.95 * rate && failed == 0 && s1.lag() <= rate;
    steps.add(
        new JsonObject()
            .put("targetPerS", rate)
            .put("seconds", StreamBench.round(dt, 1))
            .put("ingestedPerS", Math.round(storedRate))
            .put("deliveredPerS", Math.round(deliveredRate))
            .put("lagStart", s0.lag())
            .put("lagEnd", s1.lag())
            .put("lagMax", maxLag)
            .put("missed", s1.missed - s0.missed)
            .put("failedPublishes", failed)
            .put("burstsPerS", Math.round((s1.bursts - s0.bursts) / dt))
            .put("publishToReceipt", StreamBench.percentiles(lat))
            .put("storeToReceipt", StreamBench.percentiles(store))
            .put("publishToAck", StreamBench.percentiles(ack))
            .put("bounded", bounded)
            .put("fromMs", s0.wallMs)
            .put("toMs", s1.wallMs));
    StreamBench.println(
        "STEP target %,d/s: stored %,.0f/s, delivered %,.0f/s, lag %,d -> %,d (max %,d), missed %,d,"
            + " failed %,d; publish->receipt p50 %.2f p99 %.2f p999 %.2f max %.1f ms; store->receipt"
            + " p50 %.2f p99 %.2f ms; due->PubAck p50 %.1f p99 %.1f ms; %s",
        rate,
        storedRate,
        deliveredRate,
        s0.lag(),
        s1.lag(),
        maxLag,
        s1.missed - s0.missed,
        failed,
        lat.getValueAtPercentile(50) / 1e3,
        lat.getValueAtPercentile(99) / 1e3,
        lat.getValueAtPercentile(99.9) / 1e3,
        lat.getMaxValue() / 1e3,
        store.getValueAtPercentile(50) / 1e3,
        store.getValueAtPercentile(99) / 1e3,
        ack.getValueAtPercentile(50) / 1e3,
        ack.getValueAtPercentile(99) / 1e3,
        bounded ? "bounded" : "NOT bounded");
    StreamBench.row(
        "step",
        rate,
        Math.round(storedRate),
        Math.round(deliveredRate),
        s0.lag(),
        s1.lag(),
        maxLag,
        s1.missed - s0.missed,
        failed,
        ms(lat, 50),
        ms(lat, 99),
        ms(lat, 99.9),
        ms(lat, 100),
        ms(ack, 50),
        ms(ack, 99),
        ms(ack, 100),
        bounded ? "yes" : "NO",
        s0.wallMs,
        s1.wallMs,
        ms(store, 50),
        ms(store, 99),
        ms(store, 99.9));
    return bounded;
  }

  /** Lets the load run, printing progress every {@code every} s; returns the max lag seen. */
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
            "  %3d s: stored %,7.0f/s delivered %,7.0f/s lag %,8d  in-flight %3d missed %,d failed %,d",
            i,
            (s.stored - prev.stored) / dt,
            (s.applied - prev.applied) / dt,
            s.lag(),
            pub.inFlight(),
            s.missed,
            s.failed);
        prev = s;
      }
    }
    return maxLag;
  }

  /**
   * Stops publishing, waits until the consumers have applied everything stored, checks every
   * subject's last n against what was published.
   */
  private void finish(int drainTimeout, int merchants, JetStreamManagement jsm, String stream)
      throws Exception {
    long[] published = pub.stop(70);
    long stored = pub.stored();
    long t0 = System.nanoTime();
    long lag = stored - consumers.applied();
    long deadline = t0 + TimeUnit.SECONDS.toNanos(drainTimeout);
    while (consumers.applied() < stored && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    if (consumers.applied() < stored) {
      error(
          "consumers applied %,d of %,d stored messages %d s after publishing stopped",
          consumers.applied(), stored, drainTimeout);
    } else {
      StreamBench.println(
          "publishing stopped with lag %,d; consumers caught up in %.2f s",
          lag, (System.nanoTime() - t0) / 1e9);
    }
    consumers.stop();
    int wrong = 0;
    for (int m = 0; m < merchants; m++) {
      if (consumers.lastApplied(m) != published[m] && ++wrong <= 10) {
        error(
            "merchant %d: last applied n %d, published %d",
            m, consumers.lastApplied(m), published[m]);
      }
    }
    StreamInfo info = jsm.getStreamInfo(stream);
    StreamBench.println(
        "total: %,d messages stored (stream: %,d messages, %,d bytes; mean payload %.0f bytes) in %,d"
            + " bursts, %,d applied, %,d redelivered, %,d missed, %,d failed publishes; consumer"
            + " errors %d, subjects with a wrong last n %d",
        stored,
        info.getStreamState().getMsgCount(),
        info.getStreamState().getByteCount(),
        pub.meanBytes(),
        pub.bursts(),
        consumers.applied(),
        consumers.redelivered(),
        pub.missed,
        pub.failed(),
        consumers.errors(),
        wrong);
    result
        .put("stored", stored)
        .put("applied", consumers.applied())
        .put("redelivered", consumers.redelivered())
        .put("failedPublishes", pub.failed())
        .put("consumerErrors", consumers.errors())
        .put("wrongLastN", wrong)
        .put("meanPayloadBytes", Math.round(pub.meanBytes()))
        .put("streamBytes", info.getStreamState().getByteCount())
        .put("catchUpS", StreamBench.round((System.nanoTime() - t0) / 1e9, 2));
    errors += consumers.errors() + pub.failed();
  }

  private void error(String format, Object... values) {
    errors++;
    System.err.println("ERROR: " + String.format(format, values));
  }

  private static double ms(Histogram h, double percentile) {
    return StreamBench.round(
        (percentile >= 100 ? h.getMaxValue() : h.getValueAtPercentile(percentile)) / 1000.0, 2);
  }

  private Snap snap() {
    return new Snap(
        System.nanoTime(),
        System.currentTimeMillis(),
        pub == null ? 0 : pub.stored(),
        consumers == null ? 0 : consumers.applied(),
        pub == null ? 0 : pub.missed,
        pub == null ? 0 : pub.failed(),
        pub == null ? 0 : pub.bursts());
  }
}
