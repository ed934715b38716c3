package io.orderpush.perf;

import io.orderpush.drill.AdminClient;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.HdrHistogram.Histogram;

/**
 * Load tool for HTTP callback delivery (perf/callback-bench.sh runs it against a private gateway
 * started with {@code GATEWAY_CALLBACK_ALLOWLIST=127.0.0.1}). It runs its own receiver ({@link
 * CallbackReceiver}), registers a callback app pointing at it and:
 *
 * <ul>
 *   <li>{@code backlog}: merchants whose backlog is already stored (perf/callback-seed.sql): the
 *       app's endpoint is suspended, granted every merchant (start=earliest), then resumed; the
 *       clock runs from the resume until the receiver has every event, and then until every Redis
 *       cursor ({@code gw:ch:{<appId>:<merchantId>}} field {@code cursor}) shows the last seq.
 *   <li>{@code live}: fresh merchants granted (start=latest), open-model ingest at a fixed rate
 *       (perf's RateIngester); latency from commit ({@code ingestedAt}) to receipt; at the end,
 *       every merchant's last received seq must be the highest seq ingest was answered.
 * </ul>
 *
 * Dense order and duplicates are checked per merchant by the receiver in every scenario. Prints
 * {@code ROW} lines for the script's tables and a {@code RESULT_JSON} line; exit status 1 if any
 * check failed.
 */
public final class CallbackBench {

  static final String USAGE =
      """
      usage: CallbackBench <backlog|live> [--name=value ...]
        common:  url (http://127.0.0.1:8080), verify-every (10: check the signature of every n-th POST)
        backlog: prefix (required: seeded merchants are <prefix>0000, <prefix>0001, ...), merchants (1),
                 events (1000000 per merchant), timeout (900 s)
        live:    merchants (1000), rate (5000 events/s), batch (50 events per ingest request), warmup (15 s),
                 duration (60 s), max-in-flight (256 ingest requests), drain-timeout (120 s)
      environment: GATEWAY_ADMIN_TOKEN; GATEWAY_INGEST_TOKEN (live); GATEWAY_REDIS_URL (backlog)""";

  private final Map<String, String> given = new HashMap<>();
  private final String scenario;
  private final Vertx vertx;
  private final URI base;
  private final HttpClientAgent http;
  private final AdminClient operator;
  private final String adminToken;
  private final JsonObject result = new JsonObject();
  private CallbackReceiver receiver;
  private long errors;

  private CallbackBench(String[] argv, Vertx vertx) {
    if (argv.length == 0 || !List.of("backlog", "live").contains(argv[0])) {
      throw new IllegalArgumentException(USAGE);
    }
    scenario = argv[0];
    for (int i = 1; i < argv.length; i++) {
      int eq = argv[i].indexOf('=');
      if (!argv[i].startsWith("--") || eq < 0) {
        throw new IllegalArgumentException("bad argument '" + argv[i] + "'\n" + USAGE);
      }
      given.put(argv[i].substring(2, eq), argv[i].substring(eq + 1));
    }
    this.vertx = vertx;
    this.base = URI.create(str("url", "http://127.0.0.1:8080"));
    this.adminToken = StreamArgs.env("GATEWAY_ADMIN_TOKEN");
    this.http =
        vertx.createHttpClient(
            new HttpClientOptions().setKeepAlive(true), new PoolOptions().setHttp1MaxSize(16));
    this.operator = new AdminClient(http, base, adminToken);
  }

  public static void main(String[] argv) throws Exception {
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(2).setWorkerPoolSize(1));
    int status;
    try {
      CallbackBench bench = new CallbackBench(argv, vertx);
      if (bench.scenario.equals("backlog")) {
        bench.backlog();
      } else {
        bench.live();
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

  // ------------------------------------------------------------------ backlog

  private void backlog() throws Exception {
    String prefix = str("prefix", null);
    int merchants = integer("merchants", 1);
    long events = integer("events", 1_000_000);
    int timeout = integer("timeout", 900);
    int verifyEvery = Integer.parseInt(str("verify-every", "10"));
    checkAllUsed();
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < merchants; i++) {
      ids.add(prefix + String.format("%04d", i));
    }
    long total = events * merchants;
    App app = startApp("callback-bench-backlog-" + prefix, verifyEvery);
    await(endpoint(app.appId, "suspend"));
    long t = System.nanoTime();
    await(operator.grantAll(app.appId, ids, "earliest", 16));
    println(
        "app %s (suspended) granted %d merchant(s) %s0000.. from the earliest seq in %.1f s",
        app.appId, merchants, prefix, (System.nanoTime() - t) / 1e9);
    Thread.sleep(1000); // the claims in Redis
    CompletableFuture<Long> done = receiver.whenReceived(total);
    long fromMs = System.currentTimeMillis();
    long t0 = System.nanoTime();
    await(endpoint(app.appId, "resume"));
    println("endpoint resumed: delivering %,d events", total);
    long last = 0;
    long lastT = t0;
    while (!done.isDone() && System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(timeout)) {
      Thread.sleep(20);
      long now = System.nanoTime();
      if (now - lastT >= TimeUnit.SECONDS.toNanos(5)) {
        long r = receiver.received;
        println(
            "  %5.1f s: %,d events received (%,.0f events/s over the last %.1f s), %,d POSTs",
            (now - t0) / 1e9,
            r,
            (r - last) / ((now - lastT) / 1e9),
            (now - lastT) / 1e9,
            receiver.requests);
        last = r;
        lastT = now;
      }
    }
    if (!done.isDone()) {
      error(
          "backlog not delivered: %,d of %,d events received after %d s",
          receiver.received, total, timeout);
      done.complete(System.nanoTime());
    }
    long t1 = done.get();
    // Acks committed: every channel's Redis cursor at the last seq.
    long t2;
    int behind;
    try (Redis redis =
        new Redis(System.getenv().getOrDefault("GATEWAY_REDIS_URL", "redis://127.0.0.1:6379"))) {
      List<String> keys = new ArrayList<>();
      ids.forEach(m -> keys.add("gw:ch:{" + app.appId + ":" + m + "}"));
      do {
        behind = 0;
        for (String c : redis.hget(keys, "cursor")) {
          if (c == null || Long.parseLong(c) != events) {
            behind++;
          }
        }
        t2 = System.nanoTime();
        if (behind > 0) {
          Thread.sleep(2);
        }
      } while (behind > 0 && t2 - t1 < TimeUnit.SECONDS.toNanos(30));
    }
    if (behind > 0) {
      error(
          "%d of %d Redis cursors not at %d 30 s after the receiver had everything",
          behind, merchants, events);
    }
    Map<String, Long> lastSeqs = receiver.lastSeqs().get();
    int wrong = 0;
    for (String m : ids) {
      long got = lastSeqs.getOrDefault(m, 0L);
      if (got != events && ++wrong <= 10) {
        error("merchant %s: last received seq %d, expected %d", m, got, events);
      }
    }
    long toMs = fromMs + (t2 - t0) / 1_000_000;
    await(endpoint(app.appId, "suspend"));
    JsonObject view = await(call(HttpMethod.GET, "/v1/apps/" + app.appId + "/endpoint", null, 200));
    double received = (t1 - t0) / 1e9;
    double acked = (t2 - t0) / 1e9;
    long rx = receiver.received;
    println(
        "backlog: %,d events of %d merchant(s) received in %.2f s = %,.0f events/s; all %d cursors committed at %.2f s = %,.0f events/s;"
            + " %,d POSTs (%.1f events/POST, %.1f MB), %d connections, %,d signatures verified; duplicates %d, gaps %d, receiver errors %d;"
            + " endpoint %s, consecutive failures %s",
        rx,
        merchants,
        received,
        rx / received,
        merchants,
        acked,
        rx / acked,
        receiver.requests,
        (double) rx / Math.max(1, receiver.requests),
        receiver.bytes / 1e6,
        receiver.connections,
        receiver.verified,
        receiver.duplicates,
        receiver.gaps,
        receiver.errors,
        view.getString("state"),
        view.getValue("consecutiveFailures"));
    countReceiverErrors();
    result
        .put("scenario", "backlog")
        .put("appId", app.appId)
        .put("merchants", merchants)
        .put("eventsPerMerchant", events)
        .put("received", rx)
        .put("secondsToReceived", round(received, 3))
        .put("eventsPerS", Math.round(rx / received))
        .put("secondsToAcked", round(acked, 3))
        .put("eventsPerSAcked", Math.round(rx / acked))
        .put("posts", receiver.requests)
        .put("duplicates", receiver.duplicates)
        .put("gaps", receiver.gaps)
        .put("verified", receiver.verified)
        .put("fromMs", fromMs)
        .put("toMs", toMs);
    row(
        "backlog",
        merchants,
        rx,
        round(received, 2),
        Math.round(rx / received),
        round(acked, 2),
        Math.round(rx / acked),
        receiver.requests,
        round((double) rx / Math.max(1, receiver.requests), 1),
        receiver.duplicates,
        receiver.gaps,
        receiver.errors + wrong + (behind > 0 ? 1 : 0),
        receiver.verified,
        app.appId,
        fromMs,
        toMs);
    await(receiver.close());
  }

  // ------------------------------------------------------------------ live

  private void live() throws Exception {
    int merchants = integer("merchants", 1000);
    int rate = integer("rate", 5000);
    int batch = integer("batch", 50);
    int warmup = integer("warmup", 15);
    int duration = integer("duration", 60);
    int maxInFlight = integer("max-in-flight", 256);
    int drainTimeout = integer("drain-timeout", 120);
    int verifyEvery = Integer.parseInt(str("verify-every", "10"));
    String runId = Long.toString(System.currentTimeMillis(), 36);
    String prefix = str("prefix", "cb-" + runId + "-");
    checkAllUsed();
    if (merchants > 9999) {
      throw new IllegalArgumentException("--merchants must be at most 9999");
    }
    EventFactory factory = new EventFactory(runId, prefix, merchants, 42);
    List<String> ids = StreamBench.merchantIds(factory, merchants);
    App app = startApp("callback-bench-live-" + runId, verifyEvery);
    long t = System.nanoTime();
    await(operator.grantAll(app.appId, ids, "latest", 16));
    println(
        "app %s granted %d merchants (%s0000..) in %.1f s",
        app.appId, merchants, prefix, (System.nanoTime() - t) / 1e9);
    Thread.sleep(1000); // the claims in Redis
    RateIngester ingest =
        new RateIngester(
            vertx,
            base,
            StreamArgs.env("GATEWAY_INGEST_TOKEN"),
            factory,
            merchants,
            batch,
            maxInFlight);
    println("warm-up: %d s at %,d events/s (not measured)", warmup, rate);
    ingest.setRate(rate);
    Thread.sleep(TimeUnit.SECONDS.toMillis(warmup));
    receiver.latencyMicros.getIntervalHistogram();
    ingest.latencyMicros.getIntervalHistogram();
    receiver.measuring = true;
    ingest.measuring = true;
    long fromMs = System.currentTimeMillis();
    long s0 = ingest.stored;
    long r0 = receiver.received;
    long t0 = System.nanoTime();
    long maxLag = 0;
    long prevStored = s0;
    long prevRx = r0;
    long prevT = t0;
    for (int i = 1; i <= duration; i++) {
      long wake = t0 + TimeUnit.SECONDS.toNanos(i);
      Thread.sleep(Math.max(0, (wake - System.nanoTime()) / 1_000_000));
      long st = ingest.stored;
      long rx = receiver.received;
      maxLag = Math.max(maxLag, st - rx);
      if (i % 10 == 0 || i == duration) {
        long now = System.nanoTime();
        double dt = (now - prevT) / 1e9;
        println(
            "  %3d s: ingested %,7.0f/s received %,7.0f/s lag %,7d  ingest in flight %3d, missed %,d, 503 %,d",
            i,
            (st - prevStored) / dt,
            (rx - prevRx) / dt,
            st - rx,
            ingest.inFlight,
            ingest.missed,
            ingest.rejected503);
        prevStored = st;
        prevRx = rx;
        prevT = now;
      }
    }
    long t1 = System.nanoTime();
    long toMs = System.currentTimeMillis();
    long s1 = ingest.stored;
    long r1 = receiver.received;
    receiver.measuring = false;
    ingest.measuring = false;
    Histogram lat = receiver.latencyMicros.getIntervalHistogram();
    Histogram il = ingest.latencyMicros.getIntervalHistogram();
    double dt = (t1 - t0) / 1e9;
    double ingested = (s1 - s0) / dt;
    double delivered = (r1 - r0) / dt;
    println(
        "LIVE %,d events/s target over %d merchants: ingested %,.0f/s, received %,.0f/s, lag at end %,d (max %,d), missed %,d, 503 %,d;"
            + " commit->receipt p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f max %.1f ms (%,d events); ingest request p50 %.1f p99 %.1f ms",
        rate,
        merchants,
        ingested,
        delivered,
        s1 - r1,
        maxLag,
        ingest.missed,
        ingest.rejected503,
        ms(lat, 50),
        ms(lat, 90),
        ms(lat, 99),
        ms(lat, 99.9),
        ms(lat, 100),
        lat.getTotalCount(),
        ms(il, 50),
        ms(il, 99));
    // Stop ingest, let delivery catch up, check every merchant's last seq against ingest's answers.
    ingest.stop().get(70, TimeUnit.SECONDS);
    long stored = ingest.stored;
    long c0 = System.nanoTime();
    try {
      receiver.whenReceived(stored).get(drainTimeout, TimeUnit.SECONDS);
      println("ingest stopped; receiver caught up in %.2f s", (System.nanoTime() - c0) / 1e9);
    } catch (TimeoutException e) {
      error(
          "receiver has %,d of %,d stored events %d s after ingest stopped",
          receiver.received, stored, drainTimeout);
    }
    long[] heads = ingest.maxSeqs().get();
    Map<String, Long> last = receiver.lastSeqs().get();
    int wrong = 0;
    for (int m = 0; m < merchants; m++) {
      long got = last.getOrDefault(factory.merchantId(m), 0L);
      if (got != heads[m] && ++wrong <= 10) {
        error(
            "merchant %s: last received seq %d, ingest answered up to %d",
            factory.merchantId(m), got, heads[m]);
      }
    }
    await(endpoint(app.appId, "suspend"));
    println(
        "total: %,d events stored, %,d received, %,d POSTs (%.1f events/POST), %d connections, %,d signatures verified;"
            + " duplicates %d, gaps %d, receiver errors %d, ingest errors %d, merchants with a wrong last seq %d",
        stored,
        receiver.received,
        receiver.requests,
        (double) receiver.received / Math.max(1, receiver.requests),
        receiver.connections,
        receiver.verified,
        receiver.duplicates,
        receiver.gaps,
        receiver.errors,
        ingest.errors,
        wrong);
    countReceiverErrors();
    errors += ingest.errors;
    result
        .put("scenario", "live")
        .put("appId", app.appId)
        .put("merchants", merchants)
        .put("targetPerS", rate)
        .put("ingestedPerS", Math.round(ingested))
        .put("receivedPerS", Math.round(delivered))
        .put("lagEnd", s1 - r1)
        .put("lagMax", maxLag)
        .put("missed", ingest.missed)
        .put("rejected503", ingest.rejected503)
        .put("commitToReceipt", StreamBench.percentiles(lat))
        .put("ingestLatency", StreamBench.percentiles(il))
        .put("stored", stored)
        .put("received", receiver.received)
        .put("posts", receiver.requests)
        .put("duplicates", receiver.duplicates)
        .put("gaps", receiver.gaps)
        .put("wrongLastSeq", wrong)
        .put("fromMs", fromMs)
        .put("toMs", toMs);
    row(
        "live",
        rate,
        Math.round(ingested),
        Math.round(delivered),
        s1 - r1,
        maxLag,
        ingest.missed,
        ingest.rejected503,
        ms(lat, 50),
        ms(lat, 90),
        ms(lat, 99),
        ms(lat, 99.9),
        ms(lat, 100),
        ms(il, 50),
        ms(il, 99),
        receiver.requests,
        round((double) receiver.received / Math.max(1, receiver.requests), 1),
        receiver.duplicates,
        receiver.gaps,
        receiver.errors + ingest.errors + wrong,
        receiver.verified,
        app.appId,
        fromMs,
        toMs);
    await(receiver.close());
  }

  // ------------------------------------------------------------------ helpers

  private record App(String appId, String webhookSecret) {}

  /** Starts the receiver and registers a callback app pointing at it. */
  private App startApp(String name, int verifyEvery) throws Exception {
    receiver = new CallbackReceiver(vertx, verifyEvery);
    int port = await(receiver.listen());
    String url = "http://127.0.0.1:" + port + "/hook";
    JsonObject body =
        new JsonObject()
            .put("name", name)
            .put("delivery", new JsonObject().put("mode", "callback").put("url", url));
    JsonObject created = await(call(HttpMethod.POST, "/v1/apps", body, 201));
    App app = new App(created.getString("appId"), created.getString("webhookSecret"));
    receiver.secret(app.webhookSecret);
    println("receiver on %s; callback app %s", url, app.appId);
    return app;
  }

  private Future<JsonObject> endpoint(String appId, String action) {
    return call(
        HttpMethod.POST, "/v1/apps/" + appId + "/endpoint/" + action, new JsonObject(), 200);
  }

  private Future<JsonObject> call(HttpMethod method, String path, JsonObject body, int expected) {
    RequestOptions req =
        new RequestOptions()
            .setMethod(method)
            .setHost(base.getHost())
            .setPort(base.getPort())
            .setURI(path)
            .putHeader("Authorization", "Bearer " + adminToken)
            .putHeader("Content-Type", "application/json")
            .setTimeout(TimeUnit.SECONDS.toMillis(30));
    return http.request(req)
        .compose(r -> body == null ? r.send() : r.send(Buffer.buffer(body.encode())))
        .compose(
            resp ->
                resp.body()
                    .compose(
                        b ->
                            resp.statusCode() == expected
                                ? Future.succeededFuture(new JsonObject(b))
                                : Future.failedFuture(
                                    method
                                        + " "
                                        + path
                                        + ": HTTP "
                                        + resp.statusCode()
                                        + " "
                                        + b)));
  }

  private void countReceiverErrors() {
    // Duplicates are reported separately and also fail the run: the receiver always answers 204,
    // so nothing should ever come twice.
    errors += receiver.errors + receiver.duplicates;
  }

  private void error(String format, Object... values) {
    errors++;
    System.err.println("ERROR: " + String.format(format, values));
  }

  private String str(String name, String dflt) {
    String v = given.remove(name);
    if (v == null && dflt == null) {
      throw new IllegalArgumentException("--" + name + " is required\n" + USAGE);
    }
    return v != null ? v : dflt;
  }

  private int integer(String name, int dflt) {
    int v = Integer.parseInt(str(name, Integer.toString(dflt)));
    if (v <= 0) {
      throw new IllegalArgumentException("--" + name + " must be positive");
    }
    return v;
  }

  private void checkAllUsed() {
    if (!given.isEmpty()) {
      throw new IllegalArgumentException(
          "unknown argument(s) " + given.keySet() + " for " + scenario + "\n" + USAGE);
    }
  }

  private static double ms(Histogram h, double percentile) {
    return round(
        (percentile >= 100 ? h.getMaxValue() : h.getValueAtPercentile(percentile)) / 1000.0, 1);
  }

  static void println(String format, Object... values) {
    StreamBench.println(format, values);
  }

  static void row(String kind, Object... values) {
    StreamBench.row(kind, values);
  }

  static double round(double v, int digits) {
    return StreamBench.round(v, digits);
  }

  static <T> T await(Future<T> f) throws Exception {
    return StreamBench.await(f);
  }

  /** Just enough of RESP to read cursors: pipelined HGETs over one blocking socket. */
  static final class Redis implements AutoCloseable {
    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;

    Redis(String url) throws IOException {
      URI u = URI.create(url);
      socket = new Socket(u.getHost(), u.getPort() > 0 ? u.getPort() : 6379);
      socket.setTcpNoDelay(true);
      out = socket.getOutputStream();
      in = new BufferedInputStream(socket.getInputStream(), 65536);
      String info = u.getUserInfo();
      if (info != null && !info.isEmpty()) {
        String password = info.substring(info.indexOf(':') + 1);
        out.write(command("AUTH", password));
        out.flush();
        String reply = line();
        if (!reply.startsWith("+")) {
          throw new IOException("Redis AUTH: " + reply);
        }
      }
    }

    List<String> hget(List<String> keys, String field) throws IOException {
      java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
      for (String k : keys) {
        buf.write(command("HGET", k, field));
      }
      out.write(buf.toByteArray());
      out.flush();
      List<String> values = new ArrayList<>(keys.size());
      for (int i = 0; i < keys.size(); i++) {
        String head = line();
        if (head.startsWith("$-1")) {
          values.add(null);
        } else if (head.startsWith("$")) {
          int n = Integer.parseInt(head.substring(1));
          byte[] b = in.readNBytes(n + 2);
          values.add(new String(b, 0, n, StandardCharsets.UTF_8));
        } else {
          throw new IOException("Redis: " + head);
        }
      }
      return values;
    }

    private static byte[] command(String... parts) {
      StringBuilder sb = new StringBuilder("*").append(parts.length).append("\r\n");
      for (String p : parts) {
        sb.append('$')
            .append(p.getBytes(StandardCharsets.UTF_8).length)
            .append("\r\n")
            .append(p)
            .append("\r\n");
      }
      return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    private String line() throws IOException {
      StringBuilder sb = new StringBuilder();
      int c;
      while ((c = in.read()) != -1 && c != '\r') {
        sb.append((char) c);
      }
      in.read(); // \n
      return sb.toString();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
