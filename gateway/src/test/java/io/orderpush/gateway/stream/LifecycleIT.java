package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.testing.RawHttp;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** App lifecycle on one node: freeze, unfreeze, delete, token rotation, idempotent create. */
class LifecycleIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final long TOKEN_GRACE_MS = 3000;
  static final long RECONCILE_MS = 200;
  static TestGateway gw;
  static StreamFixture fx;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_APPS_TOKEN_GRACE_MS",
                Long.toString(TOKEN_GRACE_MS),
                "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS",
                "200",
                // the resync tests watch the reconcile's rounds over windows of a few of them
                "GATEWAY_CONTROL_RECONCILE_INTERVAL_MS",
                Long.toString(RECONCILE_MS)));
    fx = new StreamFixture(gw);
  }

  @AfterAll
  static void stop() {
    fx.close();
    gw.close();
  }

  static HttpResponse<String> admin(String method, String path) {
    return gw.send(method, path, TestGateway.ADMIN_TOKEN, null);
  }

  /** The status an upgrade gets: 101 if accepted (then closed), else the rejection's. */
  static int upgradeStatus(int port, String token) {
    try {
      StreamClient c = StreamFixture.join(StreamClient.connect(fx.vertx, port, token));
      c.close();
      return 101;
    } catch (RuntimeException e) {
      Throwable t = e;
      while (t != null && !(t instanceof UpgradeRejectedException)) {
        t = t.getCause();
      }
      if (t == null) {
        throw e;
      }
      return ((UpgradeRejectedException) t).getStatus();
    }
  }

  static boolean gotError(StreamClient c, String code) {
    return c.errors.stream().anyMatch(e -> code.equals(e.getString("code")));
  }

  /** Nothing reached the client after the error it was closed with. */
  static void assertNothingAfterError(StreamClient c, String code) {
    List<String> types = c.messages.stream().map(msg -> msg.getString("type")).toList();
    int error =
        c.messages.indexOf(
            c.messages.stream()
                .filter(msg -> code.equals(msg.getString("code")))
                .findFirst()
                .orElseThrow());
    assertThat(types.subList(error + 1, types.size())).as("messages after the error").isEmpty();
  }

  /** Checks the seqs a consumer received run from {@code first} to {@code last} without a gap. */
  static void assertDense(List<Long> seqs, long first, long last) {
    assertThat(seqs).isNotEmpty();
    assertThat(seqs.get(0)).as("first seq").isEqualTo(first);
    for (int i = 1; i < seqs.size(); i++) {
      assertThat(seqs.get(i)).as("seq after " + seqs.get(i - 1)).isEqualTo(seqs.get(i - 1) + 1);
    }
    assertThat(seqs.get(seqs.size() - 1)).isEqualTo(last);
  }

  @Test
  void shouldCloseABusyStreamWithAppFrozenKeepEverythingAndResumeDenseFromTheCursor()
      throws Exception {
    var app = fx.app("websocket");
    String m = fx.merchants("freeze", 1).get(0);
    fx.grant(app, m);
    StreamClient c = fx.connect(app);
    c.autoAck = true;
    fx.until("assigned", WAIT, () -> c.assigned().contains(m));

    // The stream is busy: events keep coming while the app is frozen.
    AtomicBoolean ingesting = new AtomicBoolean(true);
    ExecutorService ingester = Executors.newSingleThreadExecutor();
    Future<?> load =
        ingester.submit(
            () -> {
              while (ingesting.get()) {
                fx.ingest(List.of(m), 200, 200);
              }
            });
    try {
      fx.until("a busy stream", WAIT, () -> c.count(m) >= 1000);
      HttpResponse<String> frozen = admin("POST", "/v1/apps/" + app.id() + "/freeze");
      assertThat(frozen.statusCode()).as(frozen.body()).isEqualTo(200);
      assertThat(new JsonObject(frozen.body()).getString("state")).isEqualTo("frozen");

      fx.until("app_frozen and closed", WAIT, () -> c.closed && gotError(c, "app_frozen"));
      assertNothingAfterError(c, "app_frozen");

      // While frozen: no upgrade, no replay, no channel calls; events still stored.
      assertThat(upgradeStatus(gw.port, app.token())).isEqualTo(403);
      try (var ws =
          RawHttp.WebSocketConnection.open(
              "127.0.0.1", gw.port, StreamHandler.PATH, app.token(), 10_000)) {
        assertThat(new JsonObject(ws.handshake.body()).getString("error")).isEqualTo("app_frozen");
      }
      for (HttpResponse<String> r :
          List.of(
              gw.send("GET", "/v1/merchants/" + m + "/events?fromSeq=1", app.token(), null),
              gw.send("GET", "/v1/channels", app.token(), null),
              gw.send("PUT", "/v1/channels/" + m + "/cursor", app.token(), "{\"seq\":0}"))) {
        assertThat(r.statusCode()).as(r.body()).isEqualTo(403);
        assertThat(new JsonObject(r.body()).getString("error")).isEqualTo("app_frozen");
      }
      Thread.sleep(500); // more events arrive while frozen
    } finally {
      ingesting.set(false);
      load.get(60, TimeUnit.SECONDS);
      ingester.shutdown();
    }
    long head = fx.head(m);
    long cursor = fx.cursor(app, m);
    assertThat(cursor).as("cursor kept").isPositive().isLessThan(head);
    assertThat(admin("GET", "/v1/apps/" + app.id() + "/grants").body()).contains(m);

    HttpResponse<String> active = admin("POST", "/v1/apps/" + app.id() + "/unfreeze");
    assertThat(active.statusCode()).as(active.body()).isEqualTo(200);
    assertThat(new JsonObject(active.body()).getString("state")).isEqualTo("active");
    StreamClient again = fx.connect(app);
    again.autoAck = true;
    fx.until(
        "every event up to the head",
        WAIT,
        () -> again.received().getOrDefault(m, List.of()).contains(head),
        () -> again.count(m) + " received after cursor " + cursor + ", head " + head);
    assertDense(again.received().get(m), cursor + 1, head);
    again.close();
  }

  @Test
  void shouldCloseConnectionsKillTheTokenAndRemoveGrantsChannelsAndCursorsOnDelete() {
    var app = fx.app("websocket");
    String m = fx.merchants("delete", 1).get(0);
    fx.grant(app, m);
    StreamClient c = fx.connect(app);
    c.autoAck = true;
    fx.ingest(List.of(m), 50, 50);
    fx.until("50 acked", WAIT, () -> fx.cursor(app, m) == 50);
    fx.until("a checkpoint", WAIT, () -> rows("cursor_checkpoints", app.id()) == 1);
    // Cursor hashes a revoke leaves behind, of this app and of another: removing this app's must
    // take several SCAN steps and leave the other's alone.
    String other = java.util.UUID.randomUUID().toString();
    for (int i = 0; i < 350; i++) {
      String left = "revoked-" + i;
      StreamFixture.join(
          fx.redis.call(
              ctx(), r -> r.hset("gw:ch:{" + app.id() + ":" + left + "}", "cursor", "7")));
      StreamFixture.join(
          fx.redis.call(ctx(), r -> r.hset("gw:ch:{" + other + ":" + left + "}", "cursor", "7")));
    }

    HttpResponse<String> deleted = admin("DELETE", "/v1/apps/" + app.id());
    assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(204);

    fx.until("app_deleted and closed", WAIT, () -> c.closed && gotError(c, "app_deleted"));
    assertNothingAfterError(c, "app_deleted");
    assertThat(gw.send("GET", "/v1/channels", app.token(), null).statusCode()).isEqualTo(401);
    assertThat(upgradeStatus(gw.port, app.token())).isEqualTo(401);
    assertThat(admin("GET", "/v1/apps/" + app.id()).statusCode()).isEqualTo(404);
    assertThat(rows("grants", app.id())).isZero();
    assertThat(rows("cursor_checkpoints", app.id())).isZero();
    fx.until("the cursor hash removed from Redis", WAIT, () -> fx.cursor(app, m) == -1);
    fx.until(
        "the revoked channels' hashes removed too",
        WAIT,
        () -> keys("gw:ch:{" + app.id() + ":revoked-*").isEmpty());
    List<String> others = keys("gw:ch:{" + other + ":revoked-*");
    StreamFixture.join(fx.redis.call(ctx(), r -> r.unlink(others.toArray(String[]::new))));
    assertThat(others).as("another app's hashes").hasSize(350);
    assertThat(admin("DELETE", "/v1/apps/" + app.id()).statusCode()).isEqualTo(404);
  }

  io.vertx.core.Context ctx() {
    return fx.vertx.getOrCreateContext();
  }

  /** Every key matching {@code pattern} (a test's few hundred: KEYS is fine here). */
  List<String> keys(String pattern) {
    return StreamFixture.join(fx.redis.call(ctx(), r -> r.keys(pattern)));
  }

  @Test
  void shouldKeepTheOldTokenWorkingUntilTheGracePeriodEndsAndNotAfter() {
    var app = fx.app("websocket");
    HttpResponse<String> r = admin("POST", "/v1/apps/" + app.id() + "/token/rotate");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonObject rotated = new JsonObject(r.body());
    assertThat(rotated.fieldNames())
        .containsExactlyInAnyOrder("appId", "token", "previousTokenValidUntil");
    assertThat(rotated.getString("appId")).isEqualTo(app.id().toString());
    String token = rotated.getString("token");
    assertThat(token).startsWith("gwa_").isNotEqualTo(app.token());
    Instant validUntil = Instant.parse(rotated.getString("previousTokenValidUntil"));
    assertThat(validUntil)
        .isBetween(Instant.now(), Instant.now().plusMillis(TOKEN_GRACE_MS + 1000));

    assertThat(gw.send("GET", "/v1/channels", token, null).statusCode()).isEqualTo(200);
    assertThat(gw.send("GET", "/v1/channels", app.token(), null).statusCode()).isEqualTo(200);
    assertThat(upgradeStatus(gw.port, app.token())).isEqualTo(101);

    fx.until(
        "the old token refused",
        WAIT,
        () -> gw.send("GET", "/v1/channels", app.token(), null).statusCode() == 401);
    assertThat(Instant.now()).isAfterOrEqualTo(validUntil.minusMillis(500));
    assertThat(upgradeStatus(gw.port, app.token())).isEqualTo(401);
    assertThat(gw.send("GET", "/v1/channels", token, null).statusCode()).isEqualTo(200);
    assertThat(upgradeStatus(gw.port, token)).isEqualTo(101);
  }

  @Test
  void shouldCloseAWebSocketOpenedWithARotatedTokenWhenItsGraceEndsAndMoveItsChannel()
      throws Exception {
    var app = fx.app("websocket");
    String m = fx.merchants("rotated-ws", 1).get(0);
    fx.grant(app, m);
    StreamClient old = fx.connect(app);
    old.autoAck = true;
    fx.until("assigned to the old token's connection", WAIT, () -> old.assigned().contains(m));

    JsonObject rotated = io.orderpush.gateway.TestApps.rotateToken(gw, app.id().toString());
    Instant validUntil = Instant.parse(rotated.getString("previousTokenValidUntil"));
    StreamClient current =
        fx.watch(StreamClient.open(fx.vertx, gw.port, rotated.getString("token")));
    current.autoAck = true;

    fx.until(
        "the old token's connection closed with token_expired",
        WAIT,
        () -> gotError(old, "token_expired") && old.closed);
    assertThat(Instant.now()).as("not before its grace period ended").isAfter(validUntil);
    fx.until(
        "the channel moved to the current token's connection",
        WAIT,
        () -> current.assigned().contains(m));
    fx.ingest(List.of(m), 5, 5);
    fx.until("events on the current token's connection", WAIT, () -> current.count(m) == 5);
    assertNothingAfterError(old, "token_expired");
    assertThat(current.errors).isEmpty();
  }

  @Test
  void shouldCloseAtOnceAWebSocketWhoseTokenASecondRotationReplaced() throws Exception {
    var app = fx.app("websocket");
    StreamClient first = fx.connect(app);
    fx.until("joined", WAIT, () -> first.hello != null);

    // two rotations close together: the first token's grace period ends with the second
    JsonObject once = io.orderpush.gateway.TestApps.rotateToken(gw, app.id().toString());
    Instant firstValidUntil = Instant.parse(once.getString("previousTokenValidUntil"));
    // long enough for the first rotation's deadline to reach the connection on its own (the path
    // that brings a deadline forward), well inside its 3 s grace period
    Thread.sleep(500);
    JsonObject twice = io.orderpush.gateway.TestApps.rotateToken(gw, app.id().toString());
    Instant secondValidUntil = Instant.parse(twice.getString("previousTokenValidUntil"));
    fx.until(
        "the connection of a token no longer valid closed",
        WAIT,
        () -> gotError(first, "token_expired") && first.closed);
    assertThat(Instant.now())
        .as("closed at once, not at the end of the first rotation's grace period")
        .isBefore(firstValidUntil);

    // the token the second rotation made the previous one connects, and stays until its grace ends
    StreamClient second = fx.watch(StreamClient.open(fx.vertx, gw.port, once.getString("token")));
    fx.until(
        "that one closed when its grace period ended",
        WAIT,
        () -> gotError(second, "token_expired") && second.closed);
    assertThat(Instant.now()).isAfter(secondValidUntil);
    assertThat(second.hello).as("it was accepted first").isNotNull();
  }

  @Test
  void shouldRunOneResyncOfAnAppAtATimeHoweverOftenItsVersionMovesMeanwhile() throws Exception {
    var app = fx.app("websocket");
    String m = fx.merchants("resync", 1).get(0);
    fx.grant(app, m);
    StreamClient c = fx.connect(app);
    fx.until("assigned", WAIT, () -> c.assigned().contains(m));
    String resyncs = "gateway_control_reconcile_resyncs_total";
    double before = settledResyncs();
    // The app's resync reads its grants: this transaction holds them, so the resync waits. Its own
    // connection: the gateway's pool closes one that hears nothing for a while.
    try (java.sql.Connection holder = OwnershipMoveDuringReadIT.jdbc()) {
      holder.setAutoCommit(false);
      try (java.sql.Statement st = holder.createStatement()) {
        st.execute("LOCK TABLE grants IN ACCESS EXCLUSIVE MODE");
      }
      bumpControlVersion(app.id());
      fx.until(
          "a resync of the app, waiting",
          WAIT,
          () -> io.orderpush.gateway.Scrape.value(gw, resyncs) == before + 1);
      for (int i = 0; i < 3; i++) {
        bumpControlVersion(app.id());
        // a window for the reconcile's rounds (every 200 ms) to see the version move
        Thread.sleep(RECONCILE_MS + 100);
      }
      assertThat(io.orderpush.gateway.Scrape.value(gw, resyncs))
          .as("resyncs started while the first one waited")
          .isEqualTo(before + 1);
      holder.rollback();
    }
    fx.until(
        "one more once it ended, for the moves it could not have seen",
        WAIT,
        () -> io.orderpush.gateway.Scrape.value(gw, resyncs) == before + 2);
    fx.ingest(List.of(m), 3, 3);
    fx.until("still delivered", WAIT, () -> c.count(m) == 3);
  }

  @Test
  void shouldRunAtMostFourResyncsAtOnceAndTheAppsBeyondOnceEachWhenASlotFrees() throws Exception {
    // apps with a consumer connected here: their resync reads their grants
    List<StreamFixture.TestApp> apps = new java.util.ArrayList<>();
    List<StreamClient> consumers = new java.util.ArrayList<>();
    for (int i = 0; i < 7; i++) {
      var app = fx.app("websocket");
      String m = fx.merchants("resyncs-" + i, 1).get(0);
      fx.grant(app, m);
      StreamClient c = fx.connect(app);
      fx.until("assigned", WAIT, () -> c.assigned().contains(m));
      apps.add(app);
      consumers.add(c);
    }
    String resyncs = "gateway_control_reconcile_resyncs_total";
    String waiting = "gateway_control_reconcile_resyncs_waiting";
    double before = settledResyncs();
    try (java.sql.Connection holder = OwnershipMoveDuringReadIT.jdbc()) {
      holder.setAutoCommit(false);
      try (java.sql.Statement st = holder.createStatement()) {
        st.execute("LOCK TABLE grants IN ACCESS EXCLUSIVE MODE");
      }
      // so each resync started waits on the lock
      apps.forEach(app -> bumpControlVersion(app.id()));
      fx.until(
          "four resyncs started and three apps waiting",
          WAIT,
          () ->
              io.orderpush.gateway.Scrape.value(gw, resyncs) == before + 4
                  && io.orderpush.gateway.Scrape.value(gw, waiting) == 3);
      // a window for the reconcile's rounds (every 200 ms) to report the apps again
      Thread.sleep(2 * RECONCILE_MS + 100);
      assertThat(io.orderpush.gateway.Scrape.value(gw, resyncs))
          .as("resyncs started while four waited")
          .isEqualTo(before + 4);
      assertThat(io.orderpush.gateway.Scrape.value(gw, waiting)).isEqualTo(3);
      holder.rollback();
    }
    fx.until(
        "the three others, once each, as slots freed",
        WAIT,
        () ->
            io.orderpush.gateway.Scrape.value(gw, resyncs) == before + 7
                && io.orderpush.gateway.Scrape.value(gw, waiting) == 0);
    assertThat(settledResyncs()).isEqualTo(before + 7);
    consumers.forEach(StreamClient::close);
  }

  /**
   * The reconcile's resync count once it stays put for three reads over more than two of its rounds
   * (the changes of the test's own setup, and any earlier test's, are resynced by then).
   */
  static double settledResyncs() throws InterruptedException {
    String resyncs = "gateway_control_reconcile_resyncs_total";
    double last = io.orderpush.gateway.Scrape.value(gw, resyncs);
    int same = 0;
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (same < 3) {
      assertThat(System.nanoTime() - deadline).as("the resync count settling").isNegative();
      Thread.sleep(RECONCILE_MS + 50);
      double now = io.orderpush.gateway.Scrape.value(gw, resyncs);
      same = now == last ? same + 1 : 0;
      last = now;
    }
    return last;
  }

  /** What an app change does to the version the reconcile compares, without the change. */
  static void bumpControlVersion(UUID appId) {
    StreamFixture.join(
        gw.gateway
            .pool()
            .preparedQuery(
                "UPDATE apps SET control_version = control_version + 1 WHERE app_id = $1")
            .execute(Tuple.of(appId)));
  }

  @Test
  void shouldAnswerARetriedCreateWithTheSameAppAndNeverMakeASecond() throws Exception {
    String key = "create-" + UUID.randomUUID();
    String body = "{\"name\":\"erp\",\"delivery\":{\"mode\":\"websocket\"}}";
    HttpResponse<String> first = create(key, body);
    assertThat(first.statusCode()).as(first.body()).isEqualTo(201);
    JsonObject app = new JsonObject(first.body());
    UUID id = UUID.fromString(app.getString("appId"));
    fx.apps.add(id);
    assertThat(app.getString("token")).isNotNull();

    HttpResponse<String> retry = create(key, body);
    assertThat(retry.statusCode()).as(retry.body()).isEqualTo(200);
    JsonObject replayed = new JsonObject(retry.body());
    assertThat(replayed.getString("appId")).isEqualTo(id.toString());
    assertThat(replayed.fieldNames()).doesNotContain("token", "webhookSecret");
    assertThat(retry.headers().firstValue("Idempotent-Replayed")).contains("true");

    HttpResponse<String> other =
        create(key, "{\"name\":\"crm\",\"delivery\":{\"mode\":\"websocket\"}}");
    assertThat(other.statusCode()).as(other.body()).isEqualTo(409);
    assertThat(new JsonObject(other.body()).getString("error")).isEqualTo("idempotency_key_reused");

    // Retries racing each other: one app, one answer with credentials.
    String raced = "race-" + UUID.randomUUID();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    List<Future<HttpResponse<String>>> answers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      answers.add(pool.submit(() -> create(raced, body)));
    }
    List<Integer> statuses = new ArrayList<>();
    for (Future<HttpResponse<String>> a : answers) {
      HttpResponse<String> resp = a.get(60, TimeUnit.SECONDS);
      statuses.add(resp.statusCode());
      if (resp.statusCode() == 201) {
        fx.apps.add(UUID.fromString(new JsonObject(resp.body()).getString("appId")));
      }
    }
    pool.shutdown();
    assertThat(statuses).containsOnly(200, 201).filteredOn(s -> s == 201).hasSize(1);
    long made =
        StreamFixture.join(
                gw.gateway
                    .pool()
                    .preparedQuery("SELECT count(*) FROM apps WHERE idempotency_key = ANY($1)")
                    .execute(Tuple.of(new String[] {key, raced})))
            .iterator()
            .next()
            .getLong(0);
    assertThat(made).isEqualTo(2);

    assertThat(create("bad key", body).statusCode()).isEqualTo(400);
  }

  static HttpResponse<String> create(String key, String body) {
    try {
      return HttpClient.newHttpClient()
          .send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + gw.port + "/v1/apps"))
                  .header("Authorization", "Bearer " + TestGateway.ADMIN_TOKEN)
                  .header("Idempotency-Key", key)
                  .POST(HttpRequest.BodyPublishers.ofString(body))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static long rows(String table, UUID appId) {
    return StreamFixture.join(
            gw.gateway
                .pool()
                .preparedQuery("SELECT count(*) FROM " + table + " WHERE app_id = $1")
                .execute(Tuple.of(appId)))
        .iterator()
        .next()
        .getLong(0);
  }
}
