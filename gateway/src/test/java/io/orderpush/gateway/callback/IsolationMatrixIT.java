package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Guarantee 6, as a matrix: apps in every grant state (granted, never granted, revoked, granted
 * again, frozen, deleted) on both push transports, checked on every way out (WebSocket, callback,
 * replay, channels list, cursor PUT, the audit trail). Nothing of the merchant reaches an app that
 * is not granted it right now.
 */
class IsolationMatrixIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final String ADMIN = TestGateway.ADMIN_TOKEN;
  static TestGateway gw;
  static Vertx vertx;

  /** The apps the test made, removed at the end. */
  static final List<String> apps = new java.util.concurrent.CopyOnWriteArrayList<>();

  enum State {
    GRANTED,
    NEVER_GRANTED,
    REVOKED,
    REGRANTED,
    FROZEN,
    DELETED
  }

  /** One app of the matrix and every seq of the merchant that reached it, by transport. */
  static final class Subject {
    final State state;
    final String mode;
    String appId;
    String token;
    final Set<Long> pushed = new ConcurrentSkipListSet<>();
    CallbackRecoveryIT.Hooks hooks;

    Subject(State state, String mode) {
      this.state = state;
      this.mode = mode;
    }

    Set<Long> received() {
      Set<Long> all = new TreeSet<>(pushed);
      if (hooks != null) {
        for (CallbackRecoveryIT.Hooks.Request r : hooks.requests) {
          for (long s = r.first(); s <= r.last(); s++) {
            all.add(s);
          }
        }
      }
      return all;
    }

    @Override
    public String toString() {
      return state + "/" + mode;
    }
  }

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of("GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1"));
    vertx = Vertx.vertx();
  }

  @AfterAll
  static void stop() {
    NoStuckChannels.check(gw);
    gw.close();
    io.orderpush.gateway.TestApps.deleteRows(apps);
    vertx.close().toCompletionStage().toCompletableFuture().join();
  }

  static JsonObject create(String mode, String url) {
    JsonObject delivery = new JsonObject().put("mode", mode);
    if (url != null) {
      delivery.put("url", url);
    }
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            ADMIN,
            new JsonObject().put("name", "isolation").put("delivery", delivery).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    apps.add(app.getString("appId"));
    return app;
  }

  static int admin(String method, String path, String body) {
    return gw.send(method, path, ADMIN, body).statusCode();
  }

  void connect(Subject s, String merchant) {
    vertx
        .createWebSocketClient()
        .connect(
            new WebSocketConnectOptions()
                .setHost("127.0.0.1")
                .setPort(gw.port)
                .setURI("/v1/stream")
                .addHeader("Authorization", "Bearer " + s.token))
        // the handler is set on the event loop as the socket opens, before any message
        .map(
            ws -> {
              ws.textMessageHandler(
                  text -> {
                    JsonObject msg = new JsonObject(text);
                    if ("events".equals(msg.getString("type"))) {
                      long last = 0;
                      for (Object e : msg.getJsonArray("events")) {
                        long seq = ((JsonObject) e).getLong("seq");
                        if (merchant.equals(msg.getString("merchantId"))) {
                          s.pushed.add(seq);
                        }
                        last = seq;
                      }
                      ws.writeTextMessage(
                          new JsonObject()
                              .put("type", "ack")
                              .put("merchantId", msg.getString("merchantId"))
                              .put("seq", last)
                              .encode());
                    }
                  });
              return ws;
            })
        .toCompletionStage()
        .toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS)
        .join();
  }

  static void ingest(String merchant, int from, int to) {
    List<JsonObject> events = new ArrayList<>();
    for (int i = from; i <= to; i++) {
      events.add(Events.event(merchant, "evt-hidden-" + i));
    }
    assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
  }

  static Set<Long> seqs(long from, long to) {
    Set<Long> out = new TreeSet<>();
    for (long s = from; s <= to; s++) {
      out.add(s);
    }
    return out;
  }

  @Test
  void shouldLetNothingOfAMerchantReachAnAppItDoesNotGrantNowOnAnyWayOut() {
    String m = TestServices.uniqueMerchant("iso");
    List<Subject> subjects = new ArrayList<>();
    Map<State, List<Subject>> byState = new EnumMap<>(State.class);
    for (State state : State.values()) {
      for (String mode : List.of("websocket", "callback")) {
        Subject s = new Subject(state, mode);
        String url = null;
        if (mode.equals("callback")) {
          s.hooks = new CallbackRecoveryIT.Hooks(vertx);
          url = s.hooks.url();
        }
        JsonObject app = create(mode, url);
        s.appId = app.getString("appId");
        s.token = app.getString("token");
        subjects.add(s);
        byState.computeIfAbsent(state, k -> new ArrayList<>()).add(s);
        if (state != State.NEVER_GRANTED) {
          assertThat(admin("PUT", "/v1/merchants/" + m + "/grants/" + s.appId, "{}"))
              .isEqualTo(200);
        }
        if (mode.equals("websocket")) {
          connect(s, m);
        }
      }
    }
    // Before any change: every granted app gets seqs 1-5.
    ingest(m, 1, 5);
    for (Subject s : subjects) {
      if (s.state != State.NEVER_GRANTED) {
        Await.until(s + " got 1-5", WAIT, () -> s.received().containsAll(seqs(1, 5)));
      }
    }

    for (Subject s : subjects) {
      String grant = "/v1/merchants/" + m + "/grants/" + s.appId;
      switch (s.state) {
        case REVOKED -> assertThat(admin("DELETE", grant, null)).isEqualTo(204);
        case REGRANTED -> {
          assertThat(admin("DELETE", grant, null)).isEqualTo(204);
          assertThat(admin("PUT", grant, "{}")).isEqualTo(200);
          if (s.mode.equals("websocket")) {
            connect(s, m); // its earlier connection may have been told unassigned
          }
        }
        case FROZEN ->
            assertThat(admin("POST", "/v1/apps/" + s.appId + "/freeze", null)).isEqualTo(200);
        case DELETED -> assertThat(admin("DELETE", "/v1/apps/" + s.appId, null)).isEqualTo(204);
        default -> {}
      }
    }
    long changedAt = System.currentTimeMillis();
    ingest(m, 6, 15);
    // The barrier: the apps granted now get 6-15, so whatever else was going to arrive has.
    for (State state : List.of(State.GRANTED, State.REGRANTED)) {
      for (Subject s : byState.get(state)) {
        Await.until(s + " got 6-15", WAIT, () -> s.received().containsAll(seqs(6, 15)));
      }
    }

    for (Subject s : subjects) {
      Set<Long> got = s.received();
      switch (s.state) {
        case GRANTED -> assertThat(got).as(s.toString()).isEqualTo(seqs(1, 15));
        case REGRANTED ->
            assertThat(got).as(s + ": the new grant starts after the head").isEqualTo(seqs(1, 15));
        case NEVER_GRANTED -> assertThat(got).as(s.toString()).isEmpty();
        default -> assertThat(got).as(s + ": nothing after the change").isEqualTo(seqs(1, 5));
      }
      checkApi(s, m, changedAt);
    }
  }

  /** Replay, the channels list, a cursor PUT and the audit trail, as the app's state allows. */
  void checkApi(Subject s, String m, long changedAt) {
    HttpResponse<String> replay = gw.send("GET", "/v1/merchants/" + m + "/events", s.token, null);
    HttpResponse<String> channels = gw.send("GET", "/v1/channels", s.token, null);
    HttpResponse<String> cursor =
        gw.send("PUT", "/v1/channels/" + m + "/cursor", s.token, "{\"seq\":1}");
    switch (s.state) {
      case GRANTED, REGRANTED -> {
        assertThat(replay.statusCode()).as(s + " replay").isEqualTo(200);
        assertThat(replay.body().lines().count()).as(s + " replay").isEqualTo(15);
        assertThat(channels.body()).as(s + " channels").contains(m);
        assertThat(cursor.statusCode()).as(s + " cursor").isEqualTo(200);
      }
      case NEVER_GRANTED, REVOKED -> {
        assertThat(replay.statusCode()).as(s + " replay").isEqualTo(403);
        assertThat(replay.body()).as(s + " replay").doesNotContain("evt-hidden-");
        assertThat(channels.statusCode()).as(s + " channels").isEqualTo(200);
        assertThat(channels.body()).as(s + " channels").doesNotContain(m);
        assertThat(cursor.statusCode()).as(s + " cursor").isEqualTo(403);
      }
      case FROZEN -> {
        assertThat(replay.statusCode()).as(s + " replay").isEqualTo(403);
        assertThat(replay.body()).contains("app_frozen");
        assertThat(channels.statusCode()).as(s + " channels").isEqualTo(403);
        assertThat(cursor.statusCode()).as(s + " cursor").isEqualTo(403);
      }
      case DELETED -> {
        assertThat(replay.statusCode()).as(s + " replay").isEqualTo(401);
        assertThat(channels.statusCode()).as(s + " channels").isEqualTo(401);
        assertThat(cursor.statusCode()).as(s + " cursor").isEqualTo(401);
      }
    }
    // The audit trail: what left for this app, never anything after the change unless granted.
    Await.until(
        s + " audit written", WAIT, () -> s.state == State.NEVER_GRANTED || !audit(s, m).isEmpty());
    JsonArray items = audit(s, m);
    for (Object o : items) {
      JsonObject it = (JsonObject) o;
      assertThat(it.getString("appId")).isEqualTo(s.appId);
      if (s.state != State.GRANTED && s.state != State.REGRANTED) {
        assertThat(it.getLong("toSeq")).as(s + " audit: nothing past seq 5").isLessThanOrEqualTo(5);
      }
    }
    if (s.state == State.NEVER_GRANTED) {
      assertThat(items).as(s + " audit").isEmpty();
    }
    assertThat(changedAt).isPositive();
  }

  static JsonArray audit(Subject s, String m) {
    HttpResponse<String> r =
        gw.send(
            "GET",
            "/v1/audit/deliveries?appId=" + s.appId + "&merchantId=" + m + "&limit=1000",
            ADMIN,
            null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonObject(r.body()).getJsonArray("items");
  }
}
