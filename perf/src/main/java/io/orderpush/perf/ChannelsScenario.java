package io.orderpush.perf;

import io.orderpush.drill.AdminClient;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The {@code channels} scenario (perf/cluster-bench.sh traffic): many channels held by a cluster,
 * idle and then at a modest ingest rate, so the coordination traffic (leases, group registry,
 * pub/sub notices, claims) can be measured per second by whoever samples Redis meanwhile.
 *
 * <p>One WebSocket app (a consumer group of {@code connections} connections, round robin over the
 * nodes) and one callback app (this tool's {@link CallbackReceiver}), both granted the same {@code
 * merchants} fresh merchants (start=latest): 2 x merchants channels. Phases, each announced by a
 * {@code ROW phase <name> <fromMs> <toMs>} line: {@code idle} (nothing ingested), then {@code load}
 * ({@code rate} events/s, open model, round robin over the nodes). At the end ingest stops and both
 * apps must receive every event, dense per merchant.
 */
final class ChannelsScenario {

  private final StreamBench b;

  ChannelsScenario(StreamBench bench) {
    this.b = bench;
  }

  void run() throws Exception {
    StreamArgs a = b.args();
    int merchants = a.integer("merchants", 50_000);
    int connections = a.integer("connections", 6);
    int rate = a.integer("rate", 1000);
    int batch = a.integer("batch", 50);
    int idle = a.integer("idle", 60);
    int duration = a.integer("duration", 60);
    int settle = a.integer("settle", 20);
    int parallel = a.integer("grant-parallel", 32);
    String grantBy = a.str("grants", "sql");
    if (!grantBy.equals("sql") && !grantBy.equals("api")) {
      throw new IllegalArgumentException("--grants must be sql or api");
    }
    int drainTimeout = a.integer("drain-timeout", 120);
    String runId = Long.toString(System.currentTimeMillis(), 36);
    String prefix = a.str("prefix", "ch-" + runId + "-");
    a.checkAllUsed();

    EventFactory factory = new EventFactory(runId, prefix, merchants, 42);
    List<String> ids = StreamBench.merchantIds(factory, merchants);
    AdminClient.App ws =
        StreamBench.await(
            b.operator()
                .createApp("channels-ws-" + runId, new JsonObject().put("mode", "websocket")));
    CallbackReceiver receiver = new CallbackReceiver(b.vertx(), 0);
    int port = StreamBench.await(receiver.listen());
    AdminClient.App cb =
        StreamBench.await(
            b.operator()
                .createApp(
                    "channels-cb-" + runId,
                    new JsonObject()
                        .put("mode", "callback")
                        .put("url", "http://127.0.0.1:" + port + "/hook")));
    receiver.secret(cb.webhookSecret());
    long t = System.nanoTime();
    if (grantBy.equals("api")) {
      StreamBench.await(b.operator().grantAll(ws.appId(), ids, "latest", List.of(), parallel));
      StreamBench.await(b.operator().grantAll(cb.appId(), ids, "latest", List.of(), parallel));
    } else {
      grantBySql(prefix, merchants, ws.appId(), cb.appId());
    }
    StreamBench.println(
        "apps %s (websocket) and %s (callback) granted %,d merchants each (%,d channels) in %.1f s"
            + " (%s); connecting %d consumer connections to %d node(s)",
        ws.appId(),
        cb.appId(),
        merchants,
        2L * merchants,
        (System.nanoTime() - t) / 1e9,
        grantBy.equals("sql") ? "one INSERT by psql, the nodes reconcile it" : "the grant API",
        connections,
        b.bases().size());
    StreamConsumer consumer = new StreamConsumer(b.vertx(), b.bases(), ws.token(), ids);
    t = System.nanoTime();
    StreamBench.await(consumer.connect(connections));
    for (int i = 0; i < 1800 && consumer.assignedTotal() != merchants; i++) {
      Thread.sleep(100);
    }
    if (consumer.assignedTotal() != merchants) {
      b.error("only %d of %d merchants assigned after 180 s", consumer.assignedTotal(), merchants);
    }
    StreamBench.println(
        "every merchant assigned to one connection after %.1f s; settling %d s",
        (System.nanoTime() - t) / 1e9, settle);
    Thread.sleep(TimeUnit.SECONDS.toMillis(settle));

    long from = System.currentTimeMillis();
    StreamBench.println("phase idle: %d s, nothing ingested", idle);
    Thread.sleep(TimeUnit.SECONDS.toMillis(idle));
    long to = System.currentTimeMillis();
    StreamBench.row("phase", "idle", from, to, 0, 0, 0);

    RateIngester ingest =
        new RateIngester(
            b.vertx(),
            b.bases(),
            StreamArgs.env("GATEWAY_INGEST_TOKEN"),
            factory,
            merchants,
            batch,
            256);
    StreamBench.println(
        "phase load: %,d events/s in batches of %d for %d s", rate, batch, duration);
    ingest.setRate(rate);
    Thread.sleep(5000); // ramp: the first batches' channels wake, JIT; not measured
    from = System.currentTimeMillis();
    long s0 = ingest.stored;
    long w0 = consumer.applied;
    long c0 = receiver.received;
    Thread.sleep(TimeUnit.SECONDS.toMillis(duration));
    to = System.currentTimeMillis();
    double dt = (to - from) / 1000.0;
    long stored = ingest.stored - s0;
    long wsGot = consumer.applied - w0;
    long cbGot = receiver.received - c0;
    StreamBench.row(
        "phase",
        "load",
        from,
        to,
        Math.round(stored / dt),
        Math.round(wsGot / dt),
        Math.round(cbGot / dt));
    StreamBench.println(
        "load: ingested %,.0f/s, delivered %,.0f/s (websocket) and %,.0f/s (callback); 503 %,d,"
            + " missed %,d",
        stored / dt, wsGot / dt, cbGot / dt, ingest.rejected503, ingest.missed);

    ingest.stop().get(70, TimeUnit.SECONDS);
    long total = ingest.stored;
    try {
      consumer.whenApplied(total).get(drainTimeout, TimeUnit.SECONDS);
      receiver.whenReceived(total).get(drainTimeout, TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      b.error(
          "after %d s: websocket applied %,d, callback received %,d of %,d stored",
          drainTimeout, consumer.applied, receiver.received, total);
    }
    StreamBench.println(
        "total: %,d events stored, websocket applied %,d (%,d redelivered), callback received %,d"
            + " (%,d duplicates, %,d gaps); consumer errors %d, receiver errors %d, ingest errors %d",
        total,
        consumer.applied,
        consumer.redelivered,
        receiver.received,
        receiver.duplicates,
        receiver.gaps,
        consumer.errors,
        receiver.errors,
        ingest.errors);
    b.countErrors(consumer.errors + receiver.errors + receiver.gaps + ingest.errors);
    b.result()
        .put("scenario", "channels")
        .put("merchants", merchants)
        .put("channels", 2L * merchants)
        .put("stored", total);
    StreamBench.await(consumer.close());
    StreamBench.await(receiver.close());
  }

  /**
   * Grants the fresh merchants to both apps in one INSERT (psql on GATEWAY_PG_URL): the grant API
   * takes 100-150 grants/s on this shared box, 100,000 would take a quarter of an hour. Start seq 0
   * is what {@code start=latest} gives a merchant with no events. Each app's control version is
   * bumped, so every node loads the grants in its next control reconcile ({@code
   * control.reconcile-interval-ms}, 0.5 s) as it would after a missed change notice.
   */
  private static void grantBySql(String prefix, int merchants, String... appIds) throws Exception {
    StringBuilder sql = new StringBuilder();
    for (String app : appIds) {
      sql.append(
          String.format(
              "INSERT INTO grants (app_id, merchant_id, scopes, start_seq) SELECT '%s'::uuid,"
                  + " '%s' || CASE WHEN i < 10000 THEN lpad(i::text, 4, '0') ELSE i::text END, '{}', 0"
                  + " FROM generate_series(0, %d) AS i;",
              app, prefix.replace("'", "''"), merchants - 1));
    }
    Process p =
        new ProcessBuilder(
                "psql", "-X", "-w", "-q", "-v", "ON_ERROR_STOP=1", StreamArgs.env("GATEWAY_PG_URL"))
            .redirectErrorStream(true)
            .start();
    // One statement per app: the grants trigger (V14) bumps each app's control version once per
    // statement, so 50,000 grants cost one update of the apps row, not 50,000.
    String tx = "BEGIN;" + sql + " COMMIT;";
    try (var in = p.getOutputStream()) {
      in.write(tx.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IllegalStateException("psql failed: " + out);
    }
  }
}
