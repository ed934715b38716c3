package io.orderpush.drill;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The peak-day drill's tool (scripts/drill.sh runs it against a private gateway): creates a
 * WebSocket app and a callback app granted every merchant of the population, runs their verifying
 * consumers ({@link WsConsumerGroup}, {@link CallbackReceiver}), starts the Gatling simulation
 * ({@link DrillConfig}'s settings; {@code mvn -pl perf/drill -am gatling:test}), samples the
 * gateway every second with a live progress line, waits for the consumers to catch up, and writes
 * {@code report.md} and {@code timeline.csv} to {@code DRILL_OUT}.
 *
 * <p>Exit status: 0 passed; 1 an event was lost, reordered, applied twice or left an order half
 * way, or the load did not complete; 2 bad settings or the drill could not be set up.
 */
public final class Drill {

  private final DrillConfig config;
  private final Population population;
  private final Profile profile;
  private final Path out;
  private final Path root;
  private final URI base;
  private final boolean tty = System.console() != null;

  /** Events the gateway had committed before the drill's load (0 on the drill's own database). */
  private long committedBefore;

  private Drill(DrillConfig config, Map<String, String> env) {
    this.config = config;
    this.population = config.population();
    this.profile = config.profile(population);
    this.out = Path.of(env.getOrDefault("DRILL_OUT", "target/drill/manual")).toAbsolutePath();
    this.root = Path.of(env.getOrDefault("DRILL_ROOT", ".")).toAbsolutePath().normalize();
    this.base = config.gatewayUrl();
  }

  public static void main(String[] args) throws Exception {
    if (args.length > 0) {
      System.err.println(
          "usage: DRILL_*=... java -jar drill.jar   (no arguments)\n" + DrillConfig.USAGE);
      System.exit(2);
    }
    int status;
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(3).setWorkerPoolSize(2));
    try {
      status = new Drill(DrillConfig.fromEnv(), System.getenv()).run(vertx);
    } catch (IllegalArgumentException | SetupException e) {
      System.err.println("drill: " + e.getMessage());
      status = 2;
    }
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    System.exit(status);
  }

  static final class SetupException extends Exception {
    SetupException(String message, Throwable cause) {
      super(message + (cause == null ? "" : ": " + cause.getMessage()), cause);
    }
  }

  private int run(Vertx vertx) throws Exception {
    String admin = env("GATEWAY_ADMIN_TOKEN");
    env("GATEWAY_INGEST_TOKEN");
    Files.createDirectories(out);
    Files.deleteIfExists(out.resolve("gatling-started"));
    Files.deleteIfExists(out.resolve("gatling-done"));
    System.out.printf(
        "drill: %s scale: %,d merchants (2 giants, 42 large, %,d tail), %,d orders, %,d events%n",
        config.scaleName(),
        population.merchants().size(),
        config.tailMerchants(),
        population.totalOrders(),
        population.totalEvents());
    System.out.printf(
        "drill: load: %,.0f events/s normal for %.0f s, ramp to %,.0f in %.0f s, hold %.0f s, down in %.0f s, "
            + "normal %.0f s (%s total); batches of %d+ events%n",
        profile.normalRate(),
        profile.normalS(),
        profile.peakRate(),
        profile.rampUpS(),
        profile.holdS(),
        profile.rampDownS(),
        profile.tailS(),
        clock(profile.totalS()),
        config.batch());

    HttpClientAgent http =
        vertx.createHttpClient(
            new HttpClientOptions().setKeepAlive(true).setConnectTimeout(5_000),
            new PoolOptions().setHttp1MaxSize(16));
    Verifier wsVerifier = new Verifier("websocket", population);
    Verifier cbVerifier = new Verifier("callback", population);
    CallbackReceiver receiver = new CallbackReceiver(vertx, cbVerifier, config.verifyEvery());
    WsConsumerGroup group = null;
    AdminClient operator = new AdminClient(http, base, admin);
    List<String> ids = population.merchants().stream().map(Population.Merchant::id).toList();
    try {
      int port = await(receiver.listen(), 10, "starting the callback receiver");
      AdminClient.App wsApp =
          await(
              operator.createApp(
                  "drill-ws-" + config.runId(), new JsonObject().put("mode", "websocket")),
              30,
              "creating the WebSocket app");
      AdminClient.App cbApp =
          await(
              operator.createApp(
                  "drill-callback-" + config.runId(),
                  new JsonObject()
                      .put("mode", "callback")
                      .put("url", "http://127.0.0.1:" + port + "/hook")),
              30,
              "creating the callback app");
      await(receiver.secret(cbApp.webhookSecret()), 10, "loading the webhook secret");
      await(
          operator.grantAll(wsApp.appId(), ids, "earliest", 16),
          300,
          "granting the merchants to the WebSocket app");
      await(
          operator.grantAll(cbApp.appId(), ids, "earliest", 16),
          300,
          "granting the merchants to the callback app");
      group = new WsConsumerGroup(vertx, base, wsApp.token(), wsVerifier);
      await(group.connect(config.wsConnections()), 30, "connecting the WebSocket consumer group");
      long until = System.currentTimeMillis() + 60_000;
      while (group.assigned() < ids.size()) {
        if (System.currentTimeMillis() > until) {
          throw new SetupException(
              "the consumer group holds "
                  + group.assigned()
                  + " of "
                  + ids.size()
                  + " channels after 60 s",
              null);
        }
        Thread.sleep(100);
      }
      System.out.printf(
          "drill: apps ready: websocket %s (%d connections, %d channels), callback %s -> 127.0.0.1:%d%n",
          wsApp.appId(), config.wsConnections(), group.assigned(), cbApp.appId(), port);
      return drive(http, wsVerifier, cbVerifier, receiver, group);
    } finally {
      if (group != null) {
        group.close();
      }
      receiver.close();
    }
  }

  private int drive(
      HttpClientAgent http,
      Verifier ws,
      Verifier cb,
      CallbackReceiver receiver,
      WsConsumerGroup group)
      throws Exception {
    long gatewayPid = Long.parseLong(System.getenv().getOrDefault("DRILL_GATEWAY_PID", "0"));
    Sampler sampler = new Sampler(http, base, ws, cb, gatewayPid, Report.LOW_LOAD_RATE);
    sampler.sample();
    committedBefore = sampler.last().committed();
    Process gatling = startGatling();
    Runtime.getRuntime()
        .addShutdownHook(new Thread(gatling::destroy)); // interrupted: no Gatling left behind
    long launched = System.currentTimeMillis();
    long startMillis = -1;
    long loadEndMillis = -1;
    int gatlingExit = -1;
    long caughtUpMillis = -1;
    long total = population.totalEvents();
    long lastPrinted = 0;
    long lastCommitted = -1;
    long committedChangedMillis = 0;
    while (true) {
      long next = System.currentTimeMillis() / 1000 * 1000 + 1000;
      Thread.sleep(Math.max(1, next - System.currentTimeMillis()));
      Sampler.Sample s = sampler.sample();
      if (startMillis < 0) {
        startMillis = readStart();
        if (startMillis < 0 && s.atMillis() - launched > 300_000) {
          gatling.destroy();
          throw new SetupException(
              "Gatling did not start within 300 s; see " + out.resolve("gatling.log"), null);
        }
      }
      if (loadEndMillis < 0 && !gatling.isAlive()) {
        loadEndMillis = s.atMillis();
        gatlingExit = gatling.waitFor();
        if (startMillis < 0) {
          startMillis = readStart();
        }
      }
      boolean done = ws.applied >= total && cb.applied >= total;
      if (done && caughtUpMillis < 0) {
        caughtUpMillis = s.atMillis();
      }
      // The load is over but short of the population (the report says why): stop once the
      // consumers have what was committed and nothing more arrives.
      if (s.committed() != lastCommitted) {
        lastCommitted = s.committed();
        committedChangedMillis = s.atMillis();
      }
      boolean stalled =
          loadEndMillis > 0
              && s.atMillis() - committedChangedMillis > 5_000
              && s.wsLag() == 0
              && s.cbLag() == 0;
      String line = progress(s, startMillis, loadEndMillis, total);
      if (tty) {
        System.out.print("\r" + line + "\u001b[K");
        System.out.flush();
      } else if (s.atMillis() - lastPrinted >= 10_000) {
        System.out.println(line);
        lastPrinted = s.atMillis();
      }
      // Once everything is applied, 3 s more: a late repeat (a callback retried after its batch
      // was acked, a stray WebSocket message) must still be seen and counted.
      boolean settled = done && s.atMillis() - caughtUpMillis >= 3_000;
      if (loadEndMillis > 0
          && (settled
              || stalled
              || s.atMillis() - loadEndMillis > config.drainTimeoutS() * 1000L)) {
        break;
      }
    }
    if (tty) {
      System.out.println();
    }
    Verifier.Outcome wsOutcome =
        await(group.onLoop(ws::outcome), 30, "collecting the WebSocket verdict");
    Verifier.Outcome cbOutcome =
        await(receiver.onLoop(cb::outcome), 30, "collecting the callback verdict");
    Report report = new Report(config, population, profile, sampler, out, root);
    report.committedBefore = committedBefore;
    report.startMillis = startMillis;
    report.loadEndMillis = loadEndMillis;
    report.caughtUpMillis = caughtUpMillis;
    report.gatlingExit = gatlingExit;
    report.gatlingDone = readDone();
    report.signaturesVerified = receiver.verified;
    boolean passed = report.write(wsOutcome, cbOutcome);
    System.out.println(report.summary());
    System.out.println(
        "drill: report " + out.resolve("report.md") + (passed ? " (PASSED)" : " (FAILED)"));
    return passed ? 0 : 1;
  }

  private String progress(Sampler.Sample s, long startMillis, long loadEndMillis, long total) {
    double t = startMillis < 0 ? -1 : (s.atMillis() - startMillis) / 1000.0;
    String phase =
        startMillis < 0 ? "starting Gatling" : loadEndMillis > 0 ? "drain" : profile.phaseAt(t);
    String eta;
    if (startMillis < 0) {
      eta = "-";
    } else if (loadEndMillis < 0) {
      eta = clock(Math.max(0, profile.totalS() - t));
    } else {
      eta = String.format("%,d left", Math.max(0, 2 * total - s.wsApplied() - s.cbApplied()));
    }
    return String.format(
        "[%s] %-9s ingest %,7.0f/s (%,.0f%%) | ws %,7.0f/s lag %,9d | callback %,7.0f/s lag %,9d | shed %,d | gw %.1f cores %,d MB | ETA %s",
        clock(t < 0 ? 0 : t),
        phase,
        s.ingestRate(),
        100.0 * (s.committed() - committedBefore) / Math.max(1, total),
        s.wsRate(),
        s.wsLag(),
        s.cbRate(),
        s.cbLag(),
        s.shed(),
        s.cpuCores(),
        s.heapBytes() >> 20,
        eta);
  }

  private Process startGatling() throws IOException {
    Path pom = root.resolve("pom.xml");
    if (!Files.exists(root.resolve("perf/drill/pom.xml"))) {
      throw new IOException(
          "no perf/drill/pom.xml in " + root + " (set DRILL_ROOT to the repository)");
    }
    String mvn = System.getenv().getOrDefault("DRILL_MVN", "mvn");
    ProcessBuilder pb =
        new ProcessBuilder(
            mvn,
            "-B",
            "-ntp",
            "-f",
            pom.toString(),
            // in the reactor with the modules it needs (client/): only perf/drill runs Gatling
            "-pl",
            "perf/drill",
            "-am",
            "gatling:test",
            "-Dgatling.resultsFolder=" + out.resolve("gatling"),
            "-Dgatling.runDescription=peak-day drill " + config.runId());
    Map<String, String> env = pb.environment();
    env.put("DRILL_STATE_DIR", out.toString());
    env.put("DRILL_RUN_ID", config.runId());
    env.put("GATEWAY_URL", base.toString());
    env.putIfAbsent("DRILL_SCALE", config.scaleName());
    pb.redirectErrorStream(true).redirectOutput(out.resolve("gatling.log").toFile());
    pb.directory(root.toFile());
    System.out.println(
        "drill: starting Gatling ("
            + mvn
            + " -pl perf/drill -am gatling:test; log "
            + out.resolve("gatling.log")
            + ")");
    return pb.start();
  }

  private long readStart() {
    try {
      return Long.parseLong(Files.readString(out.resolve("gatling-started")).trim());
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }

  private String readDone() {
    try {
      return Files.readString(out.resolve("gatling-done")).trim();
    } catch (IOException e) {
      return null;
    }
  }

  private static String env(String name) throws SetupException {
    String v = System.getenv(name);
    if (v == null || v.isBlank()) {
      throw new SetupException(name + " is not set", null);
    }
    return v;
  }

  private static <T> T await(Future<T> f, int seconds, String what) throws SetupException {
    try {
      return f.toCompletionStage().toCompletableFuture().get(seconds, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new SetupException(what + " failed", e.getCause() != null ? e.getCause() : e);
    }
  }

  static String clock(double seconds) {
    long s = Math.round(seconds);
    return String.format("%02d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
  }
}
