package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.GatewayProcess;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two gateway nodes on one PostgreSQL and Redis: node A in this JVM, node B a separate process.
 * Every app and grant change is made through A and its effect awaited on B. Both nodes reconcile
 * only every minute, so within the waits below only the change notices can carry a change; a third
 * node listening on another channel (every notice lost) must still follow through its reconcile.
 */
@org.junit.jupiter.api.TestInstance(org.junit.jupiter.api.TestInstance.Lifecycle.PER_CLASS)
class LifecycleClusterIT {

  /** Generous: the product promises 1 s; only a notice can make it in time (reconcile: 60 s). */
  static final Duration NOTICE = Duration.ofSeconds(10);

  static final Duration WAIT = Duration.ofSeconds(30);
  static final Map<String, String> ENV =
      Map.of(
          "GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "60000",
          "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
          "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "100",
          "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "500",
          "GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "200");
  // ENV and what the subclass adds, as the nodes got it
  static Map<String, String> nodeEnv;
  static TestGateway a;
  static GatewayProcess b;
  static StreamFixture fx;
  static final HttpClient http = HttpClient.newHttpClient();

  /**
   * An instance method (the class has one instance for all its tests), so that a subclass's
   * override replaces it: with static methods JUnit ran both, and the nodes of the first were never
   * stopped (a node left running joins later tests' clusters).
   */
  @BeforeAll
  void start() throws Exception {
    startNodes(Map.of(), TestServices.redis(), "lifecycle-cluster-b.log");
  }

  /** Starts A and B with {@code extra} settings on top of {@link #ENV}. */
  static void startNodes(
      Map<String, String> extra, io.orderpush.persistence.redis.RedisSettings redis, String bLog)
      throws Exception {
    Map<String, String> env = new HashMap<>(ENV);
    env.putAll(extra);
    nodeEnv = env;
    a = TestGateway.start(env);
    b = GatewayProcess.start(TestGateway.freePort(), bLog, env);
    fx = new StreamFixture(a, redis);
  }

  @AfterAll
  void stop() throws Exception {
    try {
      fx.close();
      a.close();
    } finally {
      b.terminate(Duration.ofSeconds(30));
    }
  }

  static HttpResponse<String> admin(String method, String path, String body) {
    return a.send(method, path, TestGateway.ADMIN_TOKEN, body);
  }

  static void ok(HttpResponse<String> r) {
    assertThat(r.statusCode()).as(r.body()).isBetween(200, 204);
  }

  static HttpResponse<String> on(int port, String method, String path, String token) {
    return TestGateway.send(port, http, method, path, token, null);
  }

  static int upgradeStatus(int port, String token) {
    try {
      StreamFixture.join(StreamClient.connect(fx.vertx, port, token)).close();
      return 101;
    } catch (RuntimeException e) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (t instanceof UpgradeRejectedException rejected) {
          return rejected.getStatus();
        }
      }
      throw e;
    }
  }

  static boolean closedWith(StreamClient c, String code) {
    return c.closed && c.errors.stream().anyMatch(e -> code.equals(e.getString("code")));
  }

  /** The callback endpoint as the node on {@code port} sees it, or null if it has none. */
  static JsonObject endpoint(int port, String appId) {
    HttpResponse<String> r =
        on(port, "GET", "/v1/apps/" + appId + "/endpoint", TestGateway.ADMIN_TOKEN);
    return r.statusCode() == 404 ? null : new JsonObject(r.body());
  }

  @Test
  void shouldApplyEveryStreamChangeMadeOnOneNodeOnTheOther() {
    var app = fx.app("websocket");
    String m1 = TestServices.uniqueMerchant("cl1");
    String m2 = TestServices.uniqueMerchant("cl2");
    fx.grant(app, m1);
    StreamClient c = fx.connect(app, b.port, (m, e) -> {}, m -> {});
    c.autoAck = true;
    fx.until("assigned on B", WAIT, () -> c.assigned().contains(m1));

    fx.grant(app, m2);
    fx.until("a grant made on A assigned on B", NOTICE, () -> c.assigned().contains(m2));
    fx.ingest(List.of(m2), 5, 5);
    fx.until("its events delivered by B", WAIT, () -> c.count(m2) == 5);

    fx.revoke(app, m1);
    fx.until("a revoke made on A unassigned on B", NOTICE, () -> !c.assigned().contains(m1));

    ok(admin("POST", "/v1/apps/" + app.id() + "/freeze", null));
    fx.until("a freeze made on A closes B's stream", NOTICE, () -> closedWith(c, "app_frozen"));
    assertThat(upgradeStatus(b.port, app.token())).isEqualTo(403);
    fx.ingest(List.of(m2), 5, 5); // kept while frozen

    ok(admin("POST", "/v1/apps/" + app.id() + "/unfreeze", null));
    StreamClient again = fx.connect(app, b.port, (m, e) -> {}, m -> {});
    again.autoAck = true;
    fx.until(
        "after an unfreeze made on A, B delivers from the cursor",
        NOTICE,
        () -> again.count(m2) == 5 && !again.closed,
        () -> "errors " + again.errors + ", received " + again.received());
    assertThat(again.received().get(m2)).containsExactly(6L, 7L, 8L, 9L, 10L);

    HttpResponse<String> rotated = admin("POST", "/v1/apps/" + app.id() + "/token/rotate", null);
    ok(rotated);
    String token = new JsonObject(rotated.body()).getString("token");
    assertThat(on(b.port, "GET", "/v1/channels", token).statusCode()).isEqualTo(200);
    assertThat(on(b.port, "GET", "/v1/channels", app.token()).statusCode())
        .as("the old token, within its grace period")
        .isEqualTo(200);
    StreamClient current = fx.connect(b.port, token, (m, e) -> {}, m -> {});
    fx.until("a connection with the new token on B", WAIT, () -> current.hello != null);
    assertThat(again.closed).as("the old token's connection, within its grace period").isFalse();
    HttpResponse<String> rotatedAgain =
        admin("POST", "/v1/apps/" + app.id() + "/token/rotate", null);
    ok(rotatedAgain);
    fx.until(
        "a second rotation made on A closes B's stream of the token it ended",
        NOTICE,
        () -> closedWith(again, "token_expired"));
    assertThat(current.closed).as("the token it made the previous one").isFalse();

    ok(admin("DELETE", "/v1/apps/" + app.id(), null));
    fx.until(
        "a delete made on A closes B's stream", NOTICE, () -> closedWith(current, "app_deleted"));
    assertThat(on(b.port, "GET", "/v1/channels", token).statusCode()).isEqualTo(401);
    assertThat(on(b.port, "GET", "/v1/channels", app.token()).statusCode()).isEqualTo(401);
    assertThat(upgradeStatus(b.port, token)).isEqualTo(401);
  }

  @Test
  void shouldRestartOnBAnIdleChannelWhoseCursorTheAppSetThroughA() {
    var app = fx.app("websocket");
    String m = TestServices.uniqueMerchant("clcur");
    fx.grant(app, m);
    StreamClient c = fx.connect(app, b.port, (mm, e) -> {}, mm -> {});
    c.autoAck = true;
    fx.until("assigned on B", WAIT, () -> c.assigned().contains(m));
    fx.ingest(List.of(m), 5, 5);
    fx.until("delivered by B and acked", WAIT, () -> c.count(m) == 5 && fx.cursor(app, m) == 5);

    HttpResponse<String> set =
        a.send("PUT", "/v1/channels/" + m + "/cursor", app.token(), "{\"seq\":2}");
    assertThat(set.statusCode()).as(set.body()).isEqualTo(200);
    // nothing new is ingested: only the notice can tell B, which holds the channel idle
    fx.until(
        "B delivers again from seq 3",
        NOTICE,
        () -> c.count(m) == 8,
        () -> "received " + c.received() + ", errors " + c.errors);
    assertThat(c.received().get(m)).containsExactly(1L, 2L, 3L, 4L, 5L, 3L, 4L, 5L);
    fx.until("acked again", WAIT, () -> fx.cursor(app, m) == 5);
    c.close();
  }

  @Test
  void shouldApplyEveryCallbackChangeMadeOnOneNodeOnTheOther() {
    String id = callbackApp();
    String m1 = TestServices.uniqueMerchant("clcb1");
    String m2 = TestServices.uniqueMerchant("clcb2");
    ok(admin("PUT", "/v1/merchants/" + m1 + "/grants/" + id, "{}"));
    ok(admin("PUT", "/v1/merchants/" + m2 + "/grants/" + id, "{}"));
    fx.until(
        "B serves the app created and granted on A",
        NOTICE,
        () -> endpoint(b.port, id) != null && endpoint(b.port, id).getInteger("channels") == 2);

    ok(admin("POST", "/v1/apps/" + id + "/endpoint/suspend", null));
    fx.until(
        "a suspend made on A followed on B",
        NOTICE,
        () -> "suspended".equals(endpoint(b.port, id).getString("state")));
    ok(admin("POST", "/v1/apps/" + id + "/endpoint/resume", null));
    fx.until(
        "a resume made on A followed on B",
        NOTICE,
        () -> !"suspended".equals(endpoint(b.port, id).getString("state")));

    ok(admin("DELETE", "/v1/merchants/" + m1 + "/grants/" + id, null));
    fx.until(
        "a revoke made on A followed on B",
        NOTICE,
        () -> endpoint(b.port, id).getInteger("channels") == 1);

    ok(admin("POST", "/v1/apps/" + id + "/freeze", null));
    fx.until("a freeze made on A stops B's endpoint", NOTICE, () -> endpoint(b.port, id) == null);
    ok(admin("POST", "/v1/apps/" + id + "/unfreeze", null));
    fx.until(
        "an unfreeze made on A restarts B's endpoint",
        NOTICE,
        () -> endpoint(b.port, id) != null && endpoint(b.port, id).getInteger("channels") == 1);

    ok(admin("DELETE", "/v1/apps/" + id, null));
    fx.until("a delete made on A stops B's endpoint", NOTICE, () -> endpoint(b.port, id) == null);
  }

  /**
   * An operator's suspend whose write PostgreSQL refuses (a check constraint the test adds, for
   * this app only) changes nothing: the answer says so (503, repeat the request), not 200; A
   * follows the stored state again, B is not told, and nothing retries the write behind the
   * operator's back (a retry could land after a later change made elsewhere and undo it). Repeated
   * once the write is allowed, it is stored and B follows.
   */
  @Test
  void shouldAnswer503ToASuspendNotStoredAndChangeNothingUntilItIsRepeated() {
    String id = callbackApp();
    String m = TestServices.uniqueMerchant("clnotstored");
    ok(admin("PUT", "/v1/merchants/" + m + "/grants/" + id, "{}"));
    fx.until(
        "B serves the app",
        NOTICE,
        () -> endpoint(b.port, id) != null && endpoint(b.port, id).getInteger("channels") == 1);
    String constraint = "test_refuse_suspend_" + id.replace("-", "");
    sql(
        "ALTER TABLE apps ADD CONSTRAINT "
            + constraint
            + " CHECK (app_id <> '"
            + id
            + "'::uuid OR endpoint_state <> 'suspended') NOT VALID");
    try {
      HttpResponse<String> r = admin("POST", "/v1/apps/" + id + "/endpoint/suspend", null);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
      assertThat(new JsonObject(r.body()).getString("error")).isEqualTo("unavailable");
      assertThat(r.headers().firstValue("Retry-After")).contains("1");
      fx.until(
          "A follows the stored state again",
          NOTICE,
          () -> !"suspended".equals(endpoint(a.port, id).getString("state")));
      assertThat(storedState(id)).isNotEqualTo("suspended");
      assertThat(endpoint(b.port, id).getString("state")).as("on B").isNotEqualTo("suspended");
    } finally {
      sql("ALTER TABLE apps DROP CONSTRAINT " + constraint);
    }
    assertThat(storedState(id)).as("nothing retried it").isNotEqualTo("suspended");
    ok(admin("POST", "/v1/apps/" + id + "/endpoint/suspend", null));
    assertThat(storedState(id)).isEqualTo("suspended");
    fx.until(
        "the repeated suspend followed on B",
        NOTICE,
        () -> "suspended".equals(endpoint(b.port, id).getString("state")));
    ok(admin("POST", "/v1/apps/" + id + "/endpoint/resume", null));
    fx.until(
        "a resume followed on B",
        NOTICE,
        () -> !"suspended".equals(endpoint(b.port, id).getString("state")));
  }

  static void sql(String statement) {
    StreamFixture.join(a.gateway.pool().query(statement).execute());
  }

  static String storedState(String appId) {
    return StreamFixture.join(
            a.gateway
                .pool()
                .preparedQuery("SELECT endpoint_state FROM apps WHERE app_id = $1")
                .execute(io.vertx.sqlclient.Tuple.of(java.util.UUID.fromString(appId))))
        .iterator()
        .next()
        .getString(0);
  }

  @Test
  void shouldApplyChangesWhoseNoticesWereLostThroughTheReconcile() throws Exception {
    Map<String, String> deaf = new HashMap<>(nodeEnv);
    // Listens on another channel: hears none of A's notices, as if every one were lost.
    deaf.put("GATEWAY_CONTROL_CHANNEL", "gw:control:elsewhere:" + TestServices.TEST_DATABASE);
    deaf.put("GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "200");
    GatewayProcess c =
        GatewayProcess.start(TestGateway.freePort(), "lifecycle-cluster-c.log", deaf);
    try {
      var app = fx.app("websocket");
      String m1 = TestServices.uniqueMerchant("lost1");
      String m2 = TestServices.uniqueMerchant("lost2");
      fx.grant(app, m1);
      StreamClient client = fx.connect(app, c.port, (m, e) -> {}, m -> {});
      fx.until("assigned", WAIT, () -> client.assigned().contains(m1));
      fx.grant(app, m2);
      fx.until("a grant, by the reconcile", WAIT, () -> client.assigned().contains(m2));
      fx.revoke(app, m1);
      fx.until("a revoke, by the reconcile", WAIT, () -> !client.assigned().contains(m1));
      ok(admin("POST", "/v1/apps/" + app.id() + "/freeze", null));
      fx.until("a freeze, by the reconcile", WAIT, () -> closedWith(client, "app_frozen"));
      ok(admin("POST", "/v1/apps/" + app.id() + "/unfreeze", null));
      StreamClient again = fx.connect(app, c.port, (m, e) -> {}, m -> {});
      fx.until("accepted again", WAIT, () -> again.assigned().contains(m2));
      ok(admin("POST", "/v1/apps/" + app.id() + "/token/rotate", null));
      HttpResponse<String> rotated = admin("POST", "/v1/apps/" + app.id() + "/token/rotate", null);
      ok(rotated);
      fx.until("two rotations, by the reconcile", WAIT, () -> closedWith(again, "token_expired"));
      StreamClient current =
          fx.connect(
              c.port, new JsonObject(rotated.body()).getString("token"), (m, e) -> {}, m -> {});
      fx.until("the current token's connection", WAIT, () -> current.assigned().contains(m2));

      String id = callbackApp();
      ok(admin("PUT", "/v1/merchants/" + m2 + "/grants/" + id, "{}"));
      fx.until(
          "a callback app created and granted, by the reconcile",
          WAIT,
          () -> endpoint(c.port, id) != null && endpoint(c.port, id).getInteger("channels") == 1);
      ok(admin("POST", "/v1/apps/" + id + "/endpoint/suspend", null));
      fx.until(
          "a suspend, by the reconcile",
          WAIT,
          () -> "suspended".equals(endpoint(c.port, id).getString("state")));

      ok(admin("DELETE", "/v1/apps/" + app.id(), null));
      fx.until("a delete, by the reconcile", WAIT, () -> closedWith(current, "app_deleted"));
      ok(admin("DELETE", "/v1/apps/" + id, null));
      fx.until("a callback app deleted", WAIT, () -> endpoint(c.port, id) == null);
    } finally {
      c.terminate(Duration.ofSeconds(30));
    }
  }

  @Test
  void shouldTellTheOtherNodeOfASuspensionAnEndpointMadeOnA410() {
    // The node that owns the channel is answered 410 and suspends the endpoint; without a notice
    // the other would keep it active, and post any batch of its own, until its reconcile (a
    // minute here).
    java.util.concurrent.atomic.AtomicInteger posts =
        new java.util.concurrent.atomic.AtomicInteger();
    io.vertx.core.http.HttpServer receiver =
        fx.vertx
            .createHttpServer()
            .requestHandler(
                req ->
                    req.body()
                        .onComplete(
                            body ->
                                req.response()
                                    .setStatusCode(posts.getAndIncrement() == 0 ? 410 : 200)
                                    .end()));
    StreamFixture.join(receiver.listen(0, "127.0.0.1"));
    try {
      String id = callbackApp("http://127.0.0.1:" + receiver.actualPort() + "/hook");
      String m = TestServices.uniqueMerchant("clgone");
      ok(admin("PUT", "/v1/merchants/" + m + "/grants/" + id, "{}"));
      fx.until(
          "both nodes serve the app",
          NOTICE,
          () ->
              endpoint(a.port, id) != null
                  && endpoint(a.port, id).getInteger("channels") == 1
                  && endpoint(b.port, id) != null
                  && endpoint(b.port, id).getInteger("channels") == 1);

      assertThat(
              a.ingest(
                      io.orderpush.gateway.Events.batch(
                          List.of(io.orderpush.gateway.Events.event(m, "gone-1"))))
                  .statusCode())
          .isEqualTo(200);
      fx.until("the 410", NOTICE, () -> posts.get() >= 1);
      fx.until(
          "the suspension made where the 410 was answered, followed on both nodes",
          NOTICE,
          () ->
              "suspended".equals(endpoint(a.port, id).getString("state"))
                  && "suspended".equals(endpoint(b.port, id).getString("state")));
    } finally {
      StreamFixture.join(receiver.close());
    }
  }

  /** A callback app (through A) whose endpoint refuses connections: it exists, it fails. */
  static String callbackApp() {
    return callbackApp("http://127.0.0.1:" + TestGateway.freePort() + "/hook");
  }

  /** A callback app (through A) posting to {@code url}. */
  static String callbackApp(String url) {
    HttpResponse<String> r =
        admin(
            "POST",
            "/v1/apps",
            new JsonObject()
                .put("name", "cluster-cb")
                .put("delivery", new JsonObject().put("mode", "callback").put("url", url))
                .encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    String id = new JsonObject(r.body()).getString("appId");
    fx.apps.add(java.util.UUID.fromString(id));
    return id;
  }
}
