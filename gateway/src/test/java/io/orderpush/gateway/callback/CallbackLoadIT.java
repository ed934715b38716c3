package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.orderpush.delivery.callback.CallbackService;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** A callback app is delivered to however its loading went: retried until loaded, or reported. */
class CallbackLoadIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final Map<String, String> CALLBACKS =
      Map.of(
          "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1", "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "100");
  final Vertx vertx = Vertx.vertx();
  final List<String> apps = new java.util.ArrayList<>();
  TestGateway gw;

  @AfterEach
  void cleanUp() throws Exception {
    if (gw != null) {
      NoStuckChannels.check(gw);
      gw.close();
    }
    try (Connection c = jdbc();
        var st = c.prepareStatement("DELETE FROM apps WHERE app_id = ?::uuid")) {
      for (String id : apps) {
        st.setString(1, id);
        st.executeUpdate();
      }
    }
    vertx.close().toCompletionStage().toCompletableFuture().join();
  }

  static Connection jdbc() throws Exception {
    URI u = URI.create(TestServices.pgUrl());
    String[] user = u.getUserInfo().split(":", 2);
    return DriverManager.getConnection(
        "jdbc:postgresql://" + u.getHost() + ":" + u.getPort() + u.getPath(),
        user[0],
        user.length > 1 ? user[1] : "");
  }

  /** Creates a callback app granted {@code merchant} through a gateway that is then stopped. */
  String createApp(Map<String, String> env, CallbackRecoveryIT.Hooks hooks, String merchant) {
    try (TestGateway setup = TestGateway.start(env)) {
      HttpResponse<String> r =
          setup.send(
              "POST",
              "/v1/apps",
              TestGateway.ADMIN_TOKEN,
              new JsonObject()
                  .put("name", "load")
                  .put("delivery", new JsonObject().put("mode", "callback").put("url", hooks.url()))
                  .encode());
      assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
      String appId = new JsonObject(r.body()).getString("appId");
      apps.add(appId);
      assertThat(
              setup
                  .send(
                      "PUT",
                      "/v1/merchants/" + merchant + "/grants/" + appId,
                      TestGateway.ADMIN_TOKEN,
                      "{\"start\":\"earliest\"}")
                  .statusCode())
          .isEqualTo(200);
      return appId;
    }
  }

  JsonObject endpoint(String appId) {
    HttpResponse<String> r =
        gw.send("GET", "/v1/apps/" + appId + "/endpoint", TestGateway.ADMIN_TOKEN, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonObject(r.body());
  }

  @Test
  void shouldRetryLoadingAnAppWhosePostgresReadFailedUntilItIsDelivered() throws Exception {
    CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
    String m = TestServices.uniqueMerchant("load");
    String appId = createApp(CALLBACKS, hooks, m);
    Map<String, String> env = new HashMap<>(CALLBACKS);
    env.put("GATEWAY_PG_QUERY_TIMEOUT_MS", "1000");
    try (Connection lock = jdbc()) {
      lock.setAutoCommit(false);
      try (Statement st = lock.createStatement()) {
        // Every read of the grants fails (statement timeout) while this is held.
        st.execute("LOCK TABLE grants IN ACCESS EXCLUSIVE MODE");
      }
      gw = TestGateway.start(env);
      JsonObject loading = endpoint(appId);
      assertThat(loading.getString("loading")).isEqualTo("loading");
      assertThat(loading.getString("lastError")).contains("loading the endpoint failed");
      assertThat(Scrape.value(gw, "gateway_callback_endpoints_loading")).isGreaterThanOrEqualTo(1);
      assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
          .isEqualTo(200);
      lock.rollback();
    }
    Await.until(
        "the endpoint loaded",
        WAIT,
        () -> "loaded".equals(endpoint(appId).getString("loading")),
        () -> endpoint(appId).encode());
    Await.until(
        "the event delivered",
        WAIT,
        () -> hooks.requests.stream().anyMatch(r -> r.merchantId().equals(m) && r.last() == 1));
    assertThat(Scrape.value(gw, "gateway_callback_load_failures_total")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void shouldReportAppsWhoseSecretIsSealedUnderAnotherKeyOnceAndServeTheOthers() {
    CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
    String m = TestServices.uniqueMerchant("sealed");
    String sealedA = createApp(CALLBACKS, hooks, m);
    String sealedB = createApp(CALLBACKS, hooks, m);
    Map<String, String> otherKey = new HashMap<>(CALLBACKS);
    byte[] key = new byte[32];
    java.util.Arrays.fill(key, (byte) 7);
    otherKey.put("GATEWAY_SECRET_KEY", Base64.getEncoder().encodeToString(key));
    String readable = createApp(otherKey, hooks, m);

    Logger logger = (Logger) LoggerFactory.getLogger(CallbackService.class);
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.start();
    logger.addAppender(captured);
    try {
      gw = TestGateway.start(otherKey);
    } finally {
      logger.detachAppender(captured);
    }
    for (String app : List.of(sealedA, sealedB)) {
      JsonObject view = endpoint(app);
      assertThat(view.getString("loading")).isEqualTo("unreadable");
      assertThat(view.getString("lastError")).contains("cannot be opened");
    }
    assertThat(Scrape.value(gw, "gateway_callback_endpoints_unreadable")).isGreaterThanOrEqualTo(2);
    List<ILoggingEvent> warnings =
        captured.list.stream()
            .filter(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
            .filter(e -> e.getFormattedMessage().contains("cannot be opened"))
            .toList();
    assertThat(warnings).as("one line for all such apps, not one per app").hasSize(1);

    assertThat(endpoint(readable).getString("loading")).isEqualTo("loaded");
    assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
        .isEqualTo(200);
    Await.until(
        "the readable app's delivery",
        WAIT,
        () -> hooks.requests.stream().anyMatch(r -> r.merchantId().equals(m)));
  }

  /**
   * An app whose secret was sealed under another key is delivered to once its secret is rotated on
   * a node with this key: the node opens it at once (it waited for a restart), signs with the new
   * secret only (the old one it cannot open), and no longer reports it unreadable.
   */
  @Test
  void shouldDeliverToAnUnreadableAppOnceItsSecretIsRotatedUnderThisNodesKey() {
    CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
    String m = TestServices.uniqueMerchant("resealed");
    String sealed = createApp(CALLBACKS, hooks, m);
    Map<String, String> otherKey = new HashMap<>(CALLBACKS);
    byte[] key = new byte[32];
    java.util.Arrays.fill(key, (byte) 9);
    otherKey.put("GATEWAY_SECRET_KEY", Base64.getEncoder().encodeToString(key));
    gw = TestGateway.start(otherKey);
    assertThat(endpoint(sealed).getString("loading")).isEqualTo("unreadable");
    double unreadable = Scrape.value(gw, "gateway_callback_endpoints_unreadable");
    assertThat(unreadable).isGreaterThanOrEqualTo(1);

    HttpResponse<String> rotated =
        gw.send("POST", "/v1/apps/" + sealed + "/secret/rotate", TestGateway.ADMIN_TOKEN, null);
    assertThat(rotated.statusCode()).as(rotated.body()).isEqualTo(200);
    Await.until(
        "the endpoint loaded with its new secret",
        WAIT,
        () -> "loaded".equals(endpoint(sealed).getString("loading")),
        () -> endpoint(sealed).encode());
    assertThat(Scrape.value(gw, "gateway_callback_endpoints_unreadable")).isLessThan(unreadable);
    assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
        .isEqualTo(200);
    Await.until(
        "the event delivered",
        WAIT,
        () -> hooks.requests.stream().anyMatch(r -> r.merchantId().equals(m) && r.last() == 1));
  }

  @Test
  void shouldStoreASuspensionWhosePostgresWriteFailedOnceItCan() throws Exception {
    CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
    hooks.answer = r -> io.vertx.core.Future.succeededFuture(410);
    String m = TestServices.uniqueMerchant("gone");
    String appId = createApp(CALLBACKS, hooks, m);
    Map<String, String> env = new HashMap<>(CALLBACKS);
    env.put("GATEWAY_PG_QUERY_TIMEOUT_MS", "1000");
    gw = TestGateway.start(env);
    try (Connection lock = jdbc()) {
      lock.setAutoCommit(false);
      try (var st = lock.prepareStatement("SELECT 1 FROM apps WHERE app_id = ?::uuid FOR UPDATE")) {
        // The app's row is locked: writing its endpoint state fails (statement timeout).
        st.setString(1, appId);
        st.executeQuery();
      }
      assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
          .isEqualTo(200);
      Await.until(
          "the 410 seen", WAIT, () -> "suspended".equals(endpoint(appId).getString("state")));
      Await.until(
          "a failed write of the state",
          WAIT,
          () -> Scrape.value(gw, "gateway_callback_state_write_failures_total") >= 1);
      lock.rollback();
    }
    Await.until(
        "the suspension stored",
        WAIT,
        () -> {
          try (Connection c = jdbc();
              var st =
                  c.prepareStatement("SELECT endpoint_state FROM apps WHERE app_id = ?::uuid")) {
            st.setString(1, appId);
            var rs = st.executeQuery();
            return rs.next() && "suspended".equals(rs.getString(1));
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        });
  }
}
