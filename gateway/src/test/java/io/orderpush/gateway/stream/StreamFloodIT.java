package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A client that floods acks is read no faster than the gateway handles them, and stays served. */
class StreamFloodIT {

  static final Duration WAIT = Duration.ofSeconds(60);
  static TestGateway gw;

  @BeforeAll
  static void start() {
    // Backpressure, not the message rate limit, is under test here: the rate limit is set out of
    // reach.
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_STREAM_MAX_CLIENT_MESSAGES_IN_FLIGHT", "8",
                "GATEWAY_STREAM_MAX_CLIENT_MESSAGES_PER_SECOND", "10000000"));
  }

  @AfterAll
  static void stop() {
    NoStuckChannels.check(gw);
    gw.close();
  }

  @Test
  void shouldStopReadingAFloodingClientUntilItsMessagesAreHandledAndKeepServingIt() {
    String m = TestServices.uniqueMerchant("flood");
    JsonObject app =
        new JsonObject(
            gw.send(
                    "POST",
                    "/v1/apps",
                    TestGateway.ADMIN_TOKEN,
                    "{\"name\":\"flood\",\"delivery\":{\"mode\":\"websocket\"}}")
                .body());
    String appId = app.getString("appId");
    Vertx vertx = Vertx.vertx();
    try {
      gw.send("PUT", "/v1/merchants/" + m + "/grants/" + appId, TestGateway.ADMIN_TOKEN, "{}");
      List<JsonObject> received = new CopyOnWriteArrayList<>();
      List<Throwable> failures = new CopyOnWriteArrayList<>();
      WebSocket ws =
          vertx
              .createWebSocketClient()
              .connect(
                  new WebSocketConnectOptions()
                      .setHost("127.0.0.1")
                      .setPort(gw.port)
                      .setURI("/v1/stream")
                      .addHeader("Authorization", "Bearer " + app.getString("token")))
              // the handlers are set on the event loop as the socket opens, before any message
              .map(
                  socket -> {
                    socket.exceptionHandler(failures::add);
                    socket.textMessageHandler(t -> received.add(new JsonObject(t)));
                    return socket;
                  })
              .toCompletionStage()
              .toCompletableFuture()
              .orTimeout(10, TimeUnit.SECONDS)
              .join();
      Await.until(
          "assigned",
          WAIT,
          () -> received.stream().anyMatch(j -> "assigned".equals(j.getString("type"))));
      double pausedBefore = Scrape.value(gw, "gateway_stream_reads_paused_total");

      // 10,000 acks at the cursor, as fast as the client can write them.
      String ack = new JsonObject().put("type", "ack").put("merchantId", m).put("seq", 0).encode();
      vertx.runOnContext(
          v -> {
            for (int i = 0; i < 10_000; i++) {
              ws.writeTextMessage(ack);
            }
          });
      Await.until(
          "the flooding socket paused",
          WAIT,
          () -> Scrape.value(gw, "gateway_stream_reads_paused_total") > pausedBefore);

      // Still served: an event arrives, its ack moves the cursor.
      assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
          .isEqualTo(200);
      Await.until(
          "the event after the flood",
          WAIT,
          () -> received.stream().anyMatch(j -> "events".equals(j.getString("type"))));
      ws.writeTextMessage(
          new JsonObject().put("type", "ack").put("merchantId", m).put("seq", 1).encode());
      Await.until(
          "the cursor at 1",
          WAIT,
          () ->
              new JsonObject(gw.send("GET", "/v1/channels", app.getString("token"), null).body())
                      .getJsonArray("channels")
                      .getJsonObject(0)
                      .getLong("cursor")
                  == 1);
      assertThat(received).noneMatch(j -> "error".equals(j.getString("type")));
      assertThat(failures).isEmpty();
      // Closed here: left open, closing the client's Vert.x waited 30 s for it (in 5 of 6 runs).
      ws.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().join();
      gw.gateway
          .pool()
          .preparedQuery("DELETE FROM apps WHERE app_id = $1")
          .execute(Tuple.of(UUID.fromString(appId)))
          .toCompletionStage()
          .toCompletableFuture()
          .join();
    }
  }
}
