package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.delivery.channel.CheckpointStore;
import io.orderpush.delivery.channel.CheckpointStore.Checkpoint;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Cursor checkpoints never go backwards within a grant and never cross into another grant. */
class CheckpointIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  final Vertx vertx = Vertx.vertx();
  final List<String> apps = new ArrayList<>();
  TestGateway gw;

  @AfterEach
  void cleanUp() {
    if (gw != null) {
      NoStuckChannels.check(gw);
    }
    if (gw == null) {
      gw = TestGateway.start(Map.of());
    }
    for (String id : apps) {
      join(
          gw.gateway
              .pool()
              .preparedQuery("DELETE FROM apps WHERE app_id = $1")
              .execute(Tuple.of(UUID.fromString(id))));
    }
    gw.close();
    vertx.close().toCompletionStage().toCompletableFuture().join();
  }

  static <T> T join(Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().join();
  }

  String[] callbackApp(CallbackRecoveryIT.Hooks hooks) {
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject()
                .put("name", "checkpoints")
                .put("delivery", new JsonObject().put("mode", "callback").put("url", hooks.url()))
                .encode());
    JsonObject app = new JsonObject(r.body());
    apps.add(app.getString("appId"));
    return new String[] {app.getString("appId"), app.getString("token")};
  }

  void grantEarliest(String m, String appId) {
    assertThat(
            gw.send(
                    "PUT",
                    "/v1/merchants/" + m + "/grants/" + appId,
                    TestGateway.ADMIN_TOKEN,
                    "{\"start\":\"earliest\"}")
                .statusCode())
        .isEqualTo(200);
  }

  OptionalLong checkpoint(TestGateway any, String appId, String m) {
    RowSet<Row> rows =
        join(
            any.gateway
                .pool()
                .preparedQuery(
                    "SELECT cursor FROM cursor_checkpoints WHERE app_id = $1 AND merchant_id = $2")
                .execute(Tuple.of(UUID.fromString(appId), m)));
    return rows.size() == 0
        ? OptionalLong.empty()
        : OptionalLong.of(rows.iterator().next().getLong(0));
  }

  long grantVersion(String appId, String m) {
    return join(gw.gateway
            .pool()
            .preparedQuery(
                "SELECT floor(extract(epoch FROM granted_at) * 1000)::bigint FROM grants"
                    + " WHERE app_id = $1 AND merchant_id = $2")
            .execute(Tuple.of(UUID.fromString(appId), m)))
        .iterator()
        .next()
        .getLong(0);
  }

  @Test
  void shouldNeverWriteARevokedGrantsCursorAsTheCheckpointOfTheNextGrant() {
    // Checkpoints only at shutdown, so the revoked channel's moved cursor is still unwritten.
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS", "600000"));
    CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
    String m = TestServices.uniqueMerchant("regrant");
    String[] app = callbackApp(hooks);
    grantEarliest(m, app[0]);
    List<JsonObject> events = new ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      events.add(Events.event(m, "e-" + i));
    }
    assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
    Await.until(
        "cursor 10 under the first grant",
        WAIT,
        () ->
            new JsonObject(gw.send("GET", "/v1/channels", app[1], null).body())
                    .getJsonArray("channels")
                    .getJsonObject(0)
                    .getLong("cursor")
                == 10);
    // The next grant's deliveries all fail: its cursor stays at 0.
    hooks.answer = r -> Future.succeededFuture(500);
    TestApps.revoke(gw, m, app[0]);
    grantEarliest(m, app[0]);
    gw.close(); // writes the last checkpoints
    gw = TestGateway.start(Map.of());
    assertThat(checkpoint(gw, app[0], m).orElse(0))
        .as("the new grant's checkpoint (it acked nothing)")
        .isZero();
  }

  @Test
  void shouldMoveACheckpointOnlyForwardWithinItsGrantUnlessRewound() {
    gw = TestGateway.start(Map.of("GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1"));
    CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
    String m = TestServices.uniqueMerchant("forward");
    String[] app = callbackApp(hooks);
    grantEarliest(m, app[0]);
    UUID appId = UUID.fromString(app[0]);
    long version = grantVersion(app[0], m);
    CheckpointStore store = new CheckpointStore(gw.gateway.pool());

    join(store.save(List.of(new Checkpoint(appId, m, 10, version))));
    assertThat(checkpoint(gw, app[0], m)).hasValue(10);
    join(store.save(List.of(new Checkpoint(appId, m, 5, version)))); // a late, overlapping write
    assertThat(checkpoint(gw, app[0], m)).hasValue(10);
    join(store.force(List.of(new Checkpoint(appId, m, 3, version)))); // a rewind
    assertThat(checkpoint(gw, app[0], m)).hasValue(3);
    join(store.save(List.of(new Checkpoint(appId, m, 50, version - 1)))); // an earlier grant's
    assertThat(checkpoint(gw, app[0], m)).hasValue(3);
  }

  /** Connects a WebSocket consumer; its messages land in {@code into}. */
  io.vertx.core.http.WebSocket consumer(String token, List<JsonObject> into) {
    io.vertx.core.http.WebSocket ws =
        join(
            vertx
                .createWebSocketClient()
                .connect(
                    new io.vertx.core.http.WebSocketConnectOptions()
                        .setHost("127.0.0.1")
                        .setPort(gw.port)
                        .setURI("/v1/stream")
                        .addHeader("Authorization", "Bearer " + token))
                // the handler is set on the event loop as the socket opens, before any message
                .map(
                    socket -> {
                      socket.textMessageHandler(t -> into.add(new JsonObject(t)));
                      return socket;
                    }));
    return ws;
  }

  static long lastSeq(List<JsonObject> messages) {
    long last = 0;
    for (JsonObject msg : messages) {
      if ("events".equals(msg.getString("type"))) {
        for (Object e : msg.getJsonArray("events")) {
          last = Math.max(last, ((JsonObject) e).getLong("seq"));
        }
      }
    }
    return last;
  }

  long cursor(String token) {
    return new JsonObject(gw.send("GET", "/v1/channels", token, null).body())
        .getJsonArray("channels")
        .getJsonObject(0)
        .getLong("cursor");
  }

  @Test
  void shouldCheckpointAChannelWhoseConsumerReconnectedWithinOneInterval() {
    gw = TestGateway.start(Map.of("GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS", "600000"));
    String m = TestServices.uniqueMerchant("reconnect");
    JsonObject app =
        new JsonObject(
            gw.send(
                    "POST",
                    "/v1/apps",
                    TestGateway.ADMIN_TOKEN,
                    "{\"name\":\"reconnects\",\"delivery\":{\"mode\":\"websocket\"}}")
                .body());
    String appId = app.getString("appId");
    String token = app.getString("token");
    apps.add(appId);
    grantEarliest(m, appId);
    List<JsonObject> events = new ArrayList<>();
    for (int i = 1; i <= 10; i++) {
      events.add(Events.event(m, "e-" + i));
    }
    assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);

    List<JsonObject> first = new java.util.concurrent.CopyOnWriteArrayList<>();
    io.vertx.core.http.WebSocket ws = consumer(token, first);
    Await.until("seqs 1-10 on the first connection", WAIT, () -> lastSeq(first) == 10);
    ws.writeTextMessage(
        new JsonObject().put("type", "ack").put("merchantId", m).put("seq", 5).encode());
    Await.until("cursor 5", WAIT, () -> cursor(token) == 5);
    join(ws.close());
    // The app's last connection left: its channel goes, and comes back as a new one.
    Await.until(
        "the channel released",
        WAIT,
        () ->
            new JsonObject(gw.send("GET", "/v1/channels", token, null).body())
                .getJsonArray("channels")
                .getJsonObject(0)
                .getString("state")
                .equals("idle"));
    List<JsonObject> second = new java.util.concurrent.CopyOnWriteArrayList<>();
    ws = consumer(token, second);
    Await.until("seqs 6-10 again", WAIT, () -> lastSeq(second) == 10);
    ws.writeTextMessage(
        new JsonObject().put("type", "ack").put("merchantId", m).put("seq", 10).encode());
    Await.until("cursor 10", WAIT, () -> cursor(token) == 10);

    gw.close(); // the last checkpoint holds both channels' cursors, for one (app, merchant)
    gw = TestGateway.start(Map.of());
    assertThat(checkpoint(gw, appId, m)).hasValue(10);
  }
}
