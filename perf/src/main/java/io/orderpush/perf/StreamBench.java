package io.orderpush.perf;

import io.orderpush.drill.AdminClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Load tool for WebSocket push (perf/stream-bench.sh runs it against a private gateway):
 *
 * <ul>
 *   <li>{@code drain}: an app granted (start=earliest) one merchant whose backlog is already
 *       stored; one consumer acking each message; time until it has applied the last seq.
 *   <li>{@code live}: open-model ingest at a fixed rate over many merchants, one app granted all of
 *       them consuming on a few connections; commit (ingestedAt) to arrival latency.
 *   <li>{@code sustained}: the same, stepping the rate up; per step the ingest and delivery rates
 *       and the lag (events stored minus events applied and acked) at its start and end.
 * </ul>
 *
 * Every scenario checks per merchant that events arrive dense and in order ({@link
 * StreamConsumer}); live and sustained also check at the end that each merchant's last applied seq
 * is the highest seq ingest answered. Prints a {@code RESULT_JSON} line; exit status 1 if any check
 * failed.
 */
public final class StreamBench {

  private final StreamArgs args;
  private final Vertx vertx;
  private final URI base;
  private final List<URI> bases;
  private final AdminClient operator;
  private final JsonObject result = new JsonObject();
  private long errors;

  private StreamBench(StreamArgs args, Vertx vertx) {
    this.args = args;
    this.vertx = vertx;
    this.bases = args.urls();
    this.base = bases.get(0);
    this.operator =
        new AdminClient(
            vertx.createHttpClient(
                new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(16)),
            base,
            StreamArgs.env("GATEWAY_ADMIN_TOKEN"));
  }

  public static void main(String[] argv) throws Exception {
    StreamArgs args;
    try {
      args = new StreamArgs(argv);
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      System.exit(2);
      return;
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2).setWorkerPoolSize(1));
    int status;
    try {
      StreamBench bench = new StreamBench(args, vertx);
      switch (args.scenario) {
        case "drain" -> bench.drain();
        case "channels" -> new ChannelsScenario(bench).run();
        default -> new LoadScenario(bench, args.scenario.equals("sustained")).run();
      }
      System.out.println("RESULT_JSON " + bench.result.put("errors", bench.errors).encode());
      status = bench.errors == 0 ? 0 : 1;
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage());
      status = 2;
    }
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    System.exit(status);
  }

  private void drain() throws Exception {
    String merchant = args.str("merchant", null);
    long events = args.integer("events", 1_000_000);
    int connections = args.integer("connections", 1);
    int timeout = args.integer("timeout", 600);
    List<String> scopes = args.scopes();
    args.checkAllUsed();
    AdminClient.App app =
        await(
            operator.createApp(
                "stream-bench-drain-" + merchant, new JsonObject().put("mode", "websocket")));
    long startSeq = await(operator.grant(app.appId(), merchant, "earliest", scopes));
    println(
        "app %s granted merchant %s from seq %d, scopes %s; connecting %d consumer(s)",
        app.appId(), merchant, startSeq, scopes, connections);
    StreamConsumer consumer = new StreamConsumer(vertx, base, app.token(), List.of(merchant));
    long t0 = System.nanoTime();
    long fromMs = System.currentTimeMillis();
    CompletableFuture<Long> done = consumer.whenApplied(events);
    await(consumer.connect(connections));
    long last = 0;
    long lastT = t0;
    while (!done.isDone() && System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(timeout)) {
      Thread.sleep(100);
      long now = System.nanoTime();
      if (now - lastT >= TimeUnit.SECONDS.toNanos(5)) {
        long a = consumer.applied;
        println(
            "  %5.1f s: %,d events applied (%,.0f events/s over the last %.1f s)",
            (now - t0) / 1e9, a, (a - last) / ((now - lastT) / 1e9), (now - lastT) / 1e9);
        last = a;
        lastT = now;
      }
    }
    if (!done.isDone()) {
      error(
          "drain did not finish: %,d of %,d events applied after %d s",
          consumer.applied, events, timeout);
      done.complete(System.nanoTime());
    }
    long t1 = done.get();
    Map<String, Long> lastApplied = consumer.lastApplied().get();
    if (lastApplied.get(merchant) != events) {
      error(
          "merchant %s: last applied seq %d, expected %d",
          merchant, lastApplied.get(merchant), events);
    }
    double total = (t1 - t0) / 1e9;
    double fromFirst = (t1 - consumer.firstEventNanos) / 1e9;
    println(
        "drain: %,d events in %.2f s from connect = %,.0f events/s (%.2f s, %,.0f events/s from the first event);"
            + " %,d messages, %,d redelivered, %d consumer errors",
        consumer.applied,
        total,
        consumer.applied / total,
        fromFirst,
        consumer.applied / fromFirst,
        consumer.messages,
        consumer.redelivered,
        consumer.errors);
    errors += consumer.errors;
    result
        .put("scenario", "drain")
        .put("appId", app.appId())
        .put("merchantId", merchant)
        .put("events", consumer.applied)
        .put("seconds", round(total, 3))
        .put("eventsPerS", Math.round(consumer.applied / total))
        .put("secondsFromFirstEvent", round(fromFirst, 3))
        .put("messages", consumer.messages)
        .put(
            "eventsPerMessage",
            round((double) consumer.applied / Math.max(1, consumer.messages), 1))
        .put("redelivered", consumer.redelivered)
        .put("lastApplied", lastApplied.get(merchant))
        .put("fromMs", fromMs)
        .put("toMs", fromMs + (t1 - t0) / 1_000_000);
    row(
        "drain",
        consumer.applied,
        round(total, 2),
        Math.round(consumer.applied / total),
        round(fromFirst, 2),
        round((double) consumer.applied / Math.max(1, consumer.messages), 1),
        consumer.errors,
        app.appId(),
        fromMs,
        fromMs + (t1 - t0) / 1_000_000);
    await(consumer.close());
  }

  // ------------------------------------------------------------------ shared helpers

  StreamArgs args() {
    return args;
  }

  Vertx vertx() {
    return vertx;
  }

  URI base() {
    return base;
  }

  /** Every node given (one unless --urls). */
  List<URI> bases() {
    return bases;
  }

  AdminClient operator() {
    return operator;
  }

  JsonObject result() {
    return result;
  }

  void error(String format, Object... values) {
    errors++;
    System.err.println("ERROR: " + String.format(format, values));
  }

  void countErrors(long n) {
    errors += n;
  }

  static void println(String format, Object... values) {
    System.out.println(String.format(format, values));
    System.out.flush();
  }

  /** A tab-separated line for perf/stream-bench.sh's tables: ROW, kind, values. */
  static void row(String kind, Object... values) {
    StringBuilder sb = new StringBuilder("ROW\t").append(kind);
    for (Object v : values) {
      sb.append('\t').append(v);
    }
    System.out.println(sb);
  }

  static <T> T await(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(120, TimeUnit.SECONDS);
  }

  static double round(double v, int digits) {
    double k = Math.pow(10, digits);
    return Math.round(v * k) / k;
  }

  /** p50/p99/p99.9/max/mean in ms of a microsecond histogram. */
  static JsonObject percentiles(Histogram h) {
    return new JsonObject()
        .put("count", h.getTotalCount())
        .put("p50Ms", round(h.getValueAtPercentile(50) / 1000.0, 2))
        .put("p90Ms", round(h.getValueAtPercentile(90) / 1000.0, 2))
        .put("p99Ms", round(h.getValueAtPercentile(99) / 1000.0, 2))
        .put("p999Ms", round(h.getValueAtPercentile(99.9) / 1000.0, 2))
        .put("maxMs", round(h.getMaxValue() / 1000.0, 2))
        .put("meanMs", round(h.getMean() / 1000.0, 2));
  }

  static List<String> merchantIds(EventFactory factory, int merchants) {
    List<String> ids = new ArrayList<>(merchants);
    for (int i = 0; i < merchants; i++) {
      ids.add(factory.merchantId(i));
    }
    return ids;
  }
}
