package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import com.standardwebhooks.Webhook;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.GatewayProcess;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamClient;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The gateway process is SIGKILLed in the middle of delivering to a WebSocket app and a callback
 * app.
 */
class DeliveryCrashIT {

  static final Duration WAIT = Duration.ofSeconds(90);

  @Test
  void shouldDeliverDenseOneToNToBothTransportsAcrossASigkill() throws Exception {
    int port = TestGateway.freePort();
    Map<String, String> env =
        Map.of(
            "GATEWAY_CALLBACK_ALLOWLIST",
            "127.0.0.1",
            "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS",
            "100",
            "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS",
            "200");
    Vertx vertx = Vertx.vertx();
    HttpClient http = HttpClient.newHttpClient();
    GatewayProcess gateway = GatewayProcess.start(port, "delivery-crash-it-gateway.log", env);
    try (Receiver receiver = new Receiver()) {
      List<String> merchants = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        merchants.add(TestServices.uniqueMerchant("crash"));
      }
      JsonObject ws = app(port, http, new JsonObject().put("mode", "websocket"), merchants);
      JsonObject cb =
          app(
              port,
              http,
              new JsonObject().put("mode", "callback").put("url", receiver.url()),
              merchants);
      receiver.verifier = new Webhook(cb.getString("webhookSecret"));

      Map<String, Long> applied = new ConcurrentHashMap<>();
      List<String> gaps = new CopyOnWriteArrayList<>();
      AtomicBoolean running = new AtomicBoolean(true);
      Thread consumer =
          new Thread(() -> consume(vertx, port, ws.getString("token"), applied, gaps, running));
      consumer.start();

      AtomicBoolean ingesting = new AtomicBoolean(true);
      Thread marketplace =
          new Thread(
              () -> {
                while (ingesting.get()) {
                  List<JsonObject> batch = new ArrayList<>();
                  for (int i = 0; i < 50; i++) {
                    batch.add(
                        Events.event(
                            merchants.get(ThreadLocalRandom.current().nextInt(merchants.size())),
                            UUID.randomUUID().toString()));
                  }
                  String body = Events.batch(batch);
                  // Retried until acknowledged, across the crash.
                  while (ingesting.get()) {
                    try {
                      if (TestGateway.send(
                                  port, http, "POST", "/v1/events", TestGateway.INGEST_TOKEN, body)
                              .statusCode()
                          == 200) {
                        break;
                      }
                    } catch (RuntimeException down) {
                      // the gateway is restarting
                    }
                    sleep(100);
                  }
                }
              });
      marketplace.start();

      Await.until(
          "delivery under way on both transports",
          WAIT,
          () ->
              applied.values().stream().mapToLong(Long::longValue).sum() > 1000
                  && receiver.applied.values().stream().mapToLong(Long::longValue).sum() > 1000);
      gateway.kill();
      gateway = GatewayProcess.start(port, "delivery-crash-it-gateway.log", env);
      Await.until(
          "more events after the restart",
          WAIT,
          () -> applied.values().stream().mapToLong(Long::longValue).sum() > 3000);
      ingesting.set(false);
      marketplace.join(30_000);

      Map<String, Long> heads = new ConcurrentHashMap<>();
      String body =
          TestGateway.send(port, http, "GET", "/v1/channels?limit=500", ws.getString("token"), null)
              .body();
      new JsonObject(body)
          .getJsonArray("channels")
          .forEach(
              o -> {
                JsonObject c = (JsonObject) o;
                heads.put(c.getString("merchantId"), c.getLong("headSeq"));
              });
      Await.until(
          "the WebSocket app applied 1..N", WAIT, () -> heads.equals(applied), applied::toString);
      Await.until(
          "the callback app applied 1..N",
          WAIT,
          () -> heads.equals(receiver.applied),
          receiver.applied::toString);
      running.set(false);
      consumer.join(10_000);

      var pool =
          io.orderpush.persistence.pg.PgPools.create(
              vertx, TestServices.migratedPg(), "cleanup", 1, 10);
      pool.preparedQuery("DELETE FROM apps WHERE app_id = ANY($1)")
          .execute(
              io.vertx.sqlclient.Tuple.tuple()
                  .addArrayOfUUID(
                      new UUID[] {
                        UUID.fromString(ws.getString("appId")),
                        UUID.fromString(cb.getString("appId"))
                      }))
          .compose(r -> pool.close())
          .toCompletionStage()
          .toCompletableFuture()
          .get(30, TimeUnit.SECONDS);
      assertThat(gaps).isEmpty();
      assertThat(receiver.violations)
          .noneMatch(v -> v.contains("gap") || v.contains("signature") || v.contains("body"));
    } finally {
      assertThat(gateway.terminate(Duration.ofSeconds(30))).isZero();
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
  }

  static JsonObject app(int port, HttpClient http, JsonObject delivery, List<String> merchants) {
    JsonObject app =
        new JsonObject(
            TestGateway.send(
                    port,
                    http,
                    "POST",
                    "/v1/apps",
                    TestGateway.ADMIN_TOKEN,
                    new JsonObject().put("name", "crash").put("delivery", delivery).encode())
                .body());
    for (String m : merchants) {
      TestGateway.send(
          port,
          http,
          "PUT",
          "/v1/merchants/" + m + "/grants/" + app.getString("appId"),
          TestGateway.ADMIN_TOKEN,
          "{\"start\":\"earliest\"}");
    }
    return app;
  }

  /**
   * A WebSocket app that applies each merchant's events once, acks them, and reconnects whenever
   * cut off.
   */
  static void consume(
      Vertx vertx,
      int port,
      String token,
      Map<String, Long> applied,
      List<String> gaps,
      AtomicBoolean running) {
    while (running.get()) {
      try {
        AtomicReference<StreamClient> self = new AtomicReference<>();
        StreamClient c =
            StreamClient.connect(
                    vertx,
                    port,
                    token,
                    (m, events) -> {
                      synchronized (applied) {
                        for (int i = 0; i < events.size(); i++) {
                          long seq = events.getJsonObject(i).getLong("seq");
                          long last = applied.getOrDefault(m, 0L);
                          if (seq == last + 1) {
                            applied.put(m, seq);
                          } else if (seq > last + 1) {
                            gaps.add(m + ": " + seq + " after " + last);
                          }
                        }
                      }
                      if (self.get() != null) {
                        self.get().ack(m, applied.get(m));
                      }
                    })
                .toCompletionStage()
                .toCompletableFuture()
                .get(5, TimeUnit.SECONDS);
        self.set(c);
        while (running.get() && !c.closed) {
          sleep(20);
        }
        if (!c.closed) {
          c.close();
        }
      } catch (Exception reconnectLater) {
        sleep(200);
      }
    }
  }

  static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
