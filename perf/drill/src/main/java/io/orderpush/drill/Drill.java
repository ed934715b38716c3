package io.orderpush.drill;

import io.orderpush.synthetic.Population;
import io.orderpush.synthetic.Profile;
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
 * The peak-day drill's tool (scripts/drill.sh runs it against private gateway nodes): creates a
 * WebSocket app and a callback app granted every merchant of the population, runs their verifying
 * consumers ({@link WsConsumerGroup}, its connections spread over the nodes, and {@link
 * CallbackReceiver}), starts the Gatling simulation ({@link DrillConfig}'s settings; {@code mvn -pl
 * perf/drill -am gatling:test}), samples every node every second with a live progress line, kills a
 * node with SIGKILL when {@code DRILL_KILL_NODE_AT} says (pids from {@code DRILL_GATEWAY_PIDS}),
 * waits for the consumers to catch up, and writes {@code report.md} and {@code timeline.csv} to
 * {@code DRILL_OUT} (and {@code killed-node}, the node's number, when it killed one).
 *
 * <p>Exit status: 0 passed; 1 an event was lost, reordered, applied twice or left an order half
 * way, or the load did not complete; 2 bad settings or the drill could not be set up.
 */
public final class Drill {

  /**
   * How long the drill goes on after killing a node: the nodes' lease ({@code
   * GATEWAY_NODE_LEASE_MS}, default 10 s) and 10 s more.
   */
  private final long killWatchMs;

  private final DrillConfig config;
  private final Population population;
  private final Profile profile;
  private final Path out;
  private final Path root;
  private final URI base;
  private final List<URI> bases;
  private final List<Long> pids;
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
    this.bases = config.gatewayUrls();
    this.pids = pids(env, bases.size());
    long lease = 10_000;
    try {
      lease = Long.parseLong(env.getOrDefault("GATEWAY_NODE_LEASE_MS", "10000").trim());
    } catch (NumberFormatException e) {
      // the gateway refuses it at startup
    }
    this.killWatchMs = lease + 10_000;
    if (config.killsANode() && pids.get(config.killNode() - 1) <= 0) {
      throw new IllegalArgumentException(
          "DRILL_KILL_NODE_AT needs the nodes' pids (DRILL_GATEWAY_PIDS, in GATEWAY_URLS' order)");
    }
  }

  /** DRILL_GATEWAY_PIDS (comma-separated, in the nodes' order) or DRILL_GATEWAY_PID; 0: unknown. */
  private static List<Long> pids(Map<String, String> env, int nodes) {
    String list = env.getOrDefault("DRILL_GATEWAY_PIDS", env.getOrDefault("DRILL_GATEWAY_PID", ""));
    List<Long> pids = new java.util.ArrayList<>();
    for (String p : list.split(",")) {
      if (!p.isBlank()) {
        try {
          pids.add(Long.parseLong(p.trim()));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("DRILL_GATEWAY_PIDS must be process ids, not " + p);
        }
      }
    }
    while (pids.size() < nodes) {
      pids.add(0L);
    }
    return List.copyOf(pids);
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
    for (Verifier v : List.of(wsVerifier, cbVerifier)) {
      v.movesExpected = bases.size() > 1 || config.killsANode();
      v.ackSettleMs = config.ackSettleMs();
    }
    if (bases.size() > 1) {
      System.out.printf(
          "drill: %d gateway nodes: %s%s%n",
          bases.size(),
          bases,
          config.killsANode()
              ? String.format(
                  ", node %d (pid %d) killed with SIGKILL %.0f s after the load starts",
                  config.killNode(), pids.get(config.killNode() - 1), config.killNodeAtS())
              : "");
    }
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
      group = new WsConsumerGroup(vertx, bases, wsApp.token(), wsVerifier);
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
      // Across nodes the assignment settles in steps (each node acts on its view of the group):
      // wait up to 30 s more for each channel on exactly one connection.
      long settle = System.currentTimeMillis() + 30_000;
      while ((group.assigned() != ids.size() || group.distinctAssigned() != ids.size())
          && System.currentTimeMillis() < settle) {
        Thread.sleep(100);
      }
      if (group.assigned() != ids.size() || group.distinctAssigned() != ids.size()) {
        System.out.printf(
            "drill: WARNING: the consumer group's assignment did not settle in 30 s: %d channels"
                + " assigned, %d distinct, of %d%n",
            group.assigned(), group.distinctAssigned(), ids.size());
      }
      System.out.printf(
          "drill: apps ready: websocket %s (%d connections, %d channels), callback %s -> 127.0.0.1:%d%n",
          wsApp.appId(), config.wsConnections(), group.assigned(), cbApp.appId(), port);
      return drive(
          http, operator, wsApp.appId(), cbApp.appId(), wsVerifier, cbVerifier, receiver, group);
    } finally {
      if (group != null) {
        group.close();
      }
      receiver.close();
    }
  }

  private HttpClientAgent http;
  private String wsAppId;
  private String cbAppId;

  private int drive(
      HttpClientAgent http,
      AdminClient operator,
      String wsAppId,
      String cbAppId,
      Verifier ws,
      Verifier cb,
      CallbackReceiver receiver,
      WsConsumerGroup group)
      throws Exception {
    this.http = http;
    this.wsAppId = wsAppId;
    this.cbAppId = cbAppId;
    Sampler sampler = new Sampler(http, bases, pids, ws, cb, Report.LOW_LOAD_RATE);
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
    long killMillis = -1;
    while (true) {
      long next = System.currentTimeMillis() / 1000 * 1000 + 1000;
      if (killMillis < 0 && startMillis > 0 && config.killsANode()) {
        long due = startMillis + Math.round(config.killNodeAtS() * 1000);
        if (due < next) {
          Thread.sleep(Math.max(0, due - System.currentTimeMillis()));
          killMillis = kill(ws, cb, group, receiver, sampler);
        }
      }
      Thread.sleep(Math.max(1, next - System.currentTimeMillis()));
      if (ws.movesExpected && next - lastStoredPoll >= STORED_POLL_MS) {
        lastStoredPoll = next;
        pollStored(ws, cb, group, receiver);
      }
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
      String line = progress(s, sampler, startMillis, loadEndMillis, total);
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
      // A kill asked for is done even when the load is over, and the drill goes on for
      // the lease + 10 s after it: the takeover is seen, and a channel it leaves behind shows as
      // lost.
      boolean killPending =
          config.killsANode() && (killMillis < 0 || s.atMillis() < killMillis + killWatchMs);
      if (loadEndMillis > 0
          && ((!killPending && (settled || stalled))
              || s.atMillis() - loadEndMillis > config.drainTimeoutS() * 1000L)) {
        break;
      }
    }
    if (tty) {
      System.out.println();
    }
    if (ws.applied < total) {
      Map<String, long[]> view = gatewayView(wsAppId);
      await(group.onLoop(() -> ws.gatewayView = view), 10, "verifier");
    }
    if (cb.applied < total) {
      Map<String, long[]> view = gatewayView(cbAppId);
      await(receiver.onLoop(() -> cb.gatewayView = view), 10, "verifier");
    }
    Verifier.Outcome wsOutcome =
        await(group.onLoop(ws::outcome), 30, "collecting the WebSocket verdict");
    Verifier.Outcome cbOutcome =
        await(receiver.onLoop(cb::outcome), 30, "collecting the callback verdict");
    Report report = new Report(config, population, profile, sampler, out, root);
    report.committedBefore = committedBefore;
    report.killMillis = killMillis;
    report.wsConnectionsPerNode = group.connectionsPerNode();
    if (killMillis > 0) {
      // The killed node's counter stopped at its last scrape: count what is stored instead.
      try {
        report.committedStored =
            await(
                new AdminClient(http, bases.get(0), System.getenv("GATEWAY_ADMIN_TOKEN"))
                    .headsTotal(wsAppId),
                60,
                "reading the stored heads (GET /v1/lag)");
      } catch (SetupException e) {
        System.err.println("drill: " + e.getMessage());
      }
    }
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

  /** How often the stored cursors are read while channels may move (see {@link #pollStored}). */
  private static final long STORED_POLL_MS = 2_000;

  private long lastStoredPoll;
  private volatile boolean storedPollRunning;

  /**
   * Reads both apps' stored cursors through node 1 (never the one killed) and hands them to the
   * verifiers on their loops, in the background: a repeat at or below a cursor the gateway showed
   * as stored before it arrived is applied twice, whatever node or move it came from. A read that
   * fails is skipped (the next one is 2 s later).
   */
  private void pollStored(
      Verifier ws, Verifier cb, WsConsumerGroup group, CallbackReceiver receiver) {
    if (storedPollRunning) {
      return;
    }
    storedPollRunning = true;
    AdminClient reader = new AdminClient(http, bases.get(0), System.getenv("GATEWAY_ADMIN_TOKEN"));
    reader
        .cursors(wsAppId)
        .compose(
            c ->
                group.onLoop(
                    () -> {
                      ws.stored(c);
                      return null;
                    }))
        .compose(v -> reader.cursors(cbAppId))
        .compose(
            c ->
                receiver.onLoop(
                    () -> {
                      cb.stored(c);
                      return null;
                    }))
        .onComplete(
            ar -> {
              storedPollRunning = false;
              if (ar.failed()) {
                System.err.println(
                    "drill: reading the stored cursors failed (" + ar.cause().getMessage() + ")");
              }
            });
  }

  /**
   * Kills node {@code config.killNode()} with SIGKILL; tells the verifiers, the consumer group and
   * the sampler; returns when (epoch ms).
   */
  private long kill(
      Verifier ws, Verifier cb, WsConsumerGroup group, CallbackReceiver receiver, Sampler sampler)
      throws Exception {
    HttpClientAgent http = this.http;
    int index = config.killNode() - 1;
    long pid = pids.get(index);
    ProcessHandle h =
        ProcessHandle.of(pid)
            .orElseThrow(
                () ->
                    new SetupException(
                        "node " + (index + 1) + " (pid " + pid + ") is not running", null));
    group.killed(index);
    long at = System.currentTimeMillis();
    if (!h.destroyForcibly()) {
      throw new SetupException(
          "could not SIGKILL node " + (index + 1) + " (pid " + pid + ")", null);
    }
    sampler.killed(index, at);
    await(
        group.onLoop(
            () -> {
              ws.killed(at);
              return null;
            }),
        10,
        "telling the WebSocket verifier");
    await(
        receiver.onLoop(
            () -> {
              cb.killed(at);
              return null;
            }),
        10,
        "telling the callback verifier");
    Files.writeString(out.resolve("killed-node"), (index + 1) + "\n");
    // The cursors as stored now that the node is dead, through node 1 (never the one killed).
    AdminClient operator =
        new AdminClient(http, bases.get(0), System.getenv("GATEWAY_ADMIN_TOKEN"));
    try {
      Map<String, Long> wsCursors = await(operator.cursors(wsAppId), 10, "reading the cursors");
      Map<String, Long> cbCursors = await(operator.cursors(cbAppId), 10, "reading the cursors");
      if (System.currentTimeMillis() - at > (killWatchMs - 10_000) / 2) {
        // half the lease gone: a takeover may have started from them and moved them on since
        throw new SetupException(
            "the stored cursors took "
                + (System.currentTimeMillis() - at)
                + " ms to read, too close to a takeover to judge by",
            null);
      }
      await(
          group.onLoop(
              () -> {
                ws.storedAtKill(wsCursors);
                return null;
              }),
          10,
          "verifier");
      await(
          receiver.onLoop(
              () -> {
                cb.storedAtKill(cbCursors);
                return null;
              }),
          10,
          "verifier");
      System.out.printf(
          "drill: stored cursors at the kill read (%d and %d channels, %d ms after it)%n",
          wsCursors.size(), cbCursors.size(), System.currentTimeMillis() - at);
    } catch (SetupException e) {
      System.err.println(
          "drill: " + e.getMessage() + ": redeliveries are judged by the acks alone");
    }
    System.out.printf(
        "%sdrill: killed node %d (pid %d, %s) with SIGKILL at %s%n",
        tty ? "\n" : "", index + 1, pid, bases.get(index), clock((at - readStartOr(at)) / 1000.0));
    return at;
  }

  private long readStartOr(long dflt) {
    long s = readStart();
    return s < 0 ? dflt : s;
  }

  /** Each channel's stored cursor and head ({@code GET /v1/lag}, node 1); empty if that fails. */
  private Map<String, long[]> gatewayView(String appId) {
    try {
      List<JsonObject> items =
          await(
              new AdminClient(http, bases.get(0), System.getenv("GATEWAY_ADMIN_TOKEN")).lag(appId),
              30,
              "reading the stored cursors");
      Map<String, long[]> view = new java.util.HashMap<>();
      items.forEach(
          i ->
              view.put(
                  i.getString("merchantId"),
                  new long[] {i.getLong("cursor", -1L), i.getLong("headSeq", -1L)}));
      return view;
    } catch (SetupException e) {
      System.err.println("drill: " + e.getMessage());
      return Map.of();
    }
  }

  private String progress(
      Sampler.Sample s, Sampler sampler, long startMillis, long loadEndMillis, long total) {
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
        "[%s] %-9s ingest %,7.0f/s (%,.0f%%) | ws %,7.0f/s lag %,9d | callback %,7.0f/s lag %,9d | shed %,d | gw %.1f cores %,d MB%s | ETA %s",
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
        bases.size() > 1
            ? String.format(
                " (%d/%d nodes)",
                sampler.nodes.stream().filter(n -> n.killedMillis < 0).count(), bases.size())
            : "",
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
    env.put("GATEWAY_URLS", String.join(",", bases.stream().map(URI::toString).toList()));
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
