package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import com.standardwebhooks.Webhook;
import io.orderpush.delivery.cursor.CursorStore;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.GatewayProcess;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.TestRandom;
import io.orderpush.gateway.stream.StreamClient;
import io.orderpush.persistence.redis.RedisStore;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The gateway process is SIGKILLed in the middle of delivering to a WebSocket app and a callback
 * app. Both apps apply 1..N densely; events above a channel's cursor may come again after the
 * crash, events at or below the cursor stored in Redis at the moment of the crash never do.
 */
class DeliveryCrashIT {

  static final Duration WAIT = Duration.ofSeconds(90);

  /** A seq sent to a WebSocket consumer that it had already applied. */
  record Repeat(String merchantId, long seq) {}

  /** One WebSocket connection of the consumer, and which gateway process served it. */
  static final class Connection {
    final List<Repeat> repeats = new CopyOnWriteArrayList<>();
    final Map<String, Long> highestSent = new ConcurrentHashMap<>();
    volatile boolean toRestartedGateway;
  }

  @Test
  void shouldDeliverDenseOneToNToBothTransportsAcrossASigkill() throws Exception {
    TestRandom random = TestRandom.forTest("DeliveryCrashIT");
    int port = TestGateway.freePort();
    // The restarted gateway (a new node) takes the killed one's channels over once its lease has
    // expired: 3 s here (as in OwnershipClusterIT), not the default's 10, which it spent waiting.
    Map<String, String> env =
        Map.of(
            "GATEWAY_CALLBACK_ALLOWLIST",
            "127.0.0.1",
            "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS",
            "100",
            "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS",
            "200",
            "GATEWAY_NODE_LEASE_MS",
            "3000");
    Vertx vertx = Vertx.vertx();
    HttpClient http = HttpClient.newHttpClient();
    AtomicReference<GatewayProcess> gateway =
        new AtomicReference<>(GatewayProcess.start(port, "delivery-crash-it-gateway.log", env));
    List<String> appIds = new ArrayList<>();
    int exit;
    try (Receiver receiver = new Receiver()) {
      List<String> merchants = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        merchants.add(TestServices.uniqueMerchant("crash"));
      }
      JsonObject ws = app(port, http, new JsonObject().put("mode", "websocket"), merchants);
      appIds.add(ws.getString("appId"));
      JsonObject cb =
          app(
              port,
              http,
              new JsonObject().put("mode", "callback").put("url", receiver.url()),
              merchants);
      appIds.add(cb.getString("appId"));
      receiver.verifier = new Webhook(cb.getString("webhookSecret"));

      Map<String, Long> applied = new ConcurrentHashMap<>();
      List<String> problems = new CopyOnWriteArrayList<>();
      List<Connection> connections = new CopyOnWriteArrayList<>();
      AtomicBoolean restarted = new AtomicBoolean();
      AtomicBoolean running = new AtomicBoolean(true);
      Thread consumer =
          new Thread(
              () ->
                  consume(
                      vertx,
                      port,
                      ws.getString("token"),
                      applied,
                      problems,
                      connections,
                      restarted,
                      running));
      consumer.start();

      AtomicBoolean ingesting = new AtomicBoolean(true);
      Random choices = random.fork(0);
      Thread marketplace =
          new Thread(
              () -> {
                while (ingesting.get()) {
                  List<JsonObject> batch = new ArrayList<>();
                  for (int i = 0; i < 50; i++) {
                    batch.add(
                        Events.event(
                            merchants.get(choices.nextInt(merchants.size())),
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
      gateway.get().kill();
      // With the gateway dead, nothing moves a cursor: these are exactly what was acked.
      Map<String, Long> wsAcked = redisCursors(vertx, ws.getString("appId"), merchants);
      Map<String, Long> cbAcked = redisCursors(vertx, cb.getString("appId"), merchants);
      long restartedAt = System.currentTimeMillis();
      restarted.set(true);
      gateway.set(GatewayProcess.start(port, "delivery-crash-it-gateway.log", env));
      Await.until(
          "more events after the restart",
          WAIT,
          () -> applied.values().stream().mapToLong(Long::longValue).sum() > 3000);
      ingesting.set(false);
      marketplace.join(30_000);

      Map<String, Long> heads = new HashMap<>();
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

      assertThat(problems).as("gaps or repeats on one connection; " + random).isEmpty();
      assertThat(receiver.violations).as(random.toString()).isEmpty();
      assertThat(wsAcked.values())
          .as("the WebSocket app had acked something before the crash")
          .anyMatch(c -> c > 0);
      assertThat(cbAcked.values())
          .as("the callback app had acked something before the crash")
          .anyMatch(c -> c > 0);
      // One list for both transports, so a failure shows all that came again.
      List<String> again = new ArrayList<>();
      for (Connection c : connections) {
        for (Repeat r : c.repeats) {
          if (c.toRestartedGateway && r.seq() <= wsAcked.get(r.merchantId())) {
            again.add("websocket " + r + " although the cursor was " + wsAcked.get(r.merchantId()));
          }
        }
      }
      receiver.deliveries.stream()
          .filter(
              d ->
                  d.atMillis() >= restartedAt
                      && d.first() <= cbAcked.getOrDefault(d.merchantId(), 0L))
          .map(
              d ->
                  "callback "
                      + d.merchantId()
                      + ": "
                      + d.first()
                      + ".."
                      + d.last()
                      + " although the cursor was "
                      + cbAcked.get(d.merchantId()))
          .forEach(again::add);
      assertThat(again)
          .as("events at or below the acked cursor delivered again; " + random)
          .isEmpty();
      // Answered 2xx but not stored as the cursor before the kill: legal to send again.
      System.out.printf(
          "delivery-crash: %d callback batches sent again after a 2xx, all above the cursor%n",
          receiver.resent.size());
    } finally {
      exit = stop(gateway.get());
      cleanUp(vertx, appIds);
      vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
    assertThat(exit).as("exit code after SIGTERM").isZero();
  }

  /** SIGTERM; -1 if it did not exit in time (reported by the caller, not hiding a failure). */
  static int stop(GatewayProcess gateway) throws InterruptedException {
    try {
      return gateway.terminate(Duration.ofSeconds(30));
    } catch (IllegalStateException notInTime) {
      return -1;
    }
  }

  static void cleanUp(Vertx vertx, List<String> appIds) throws Exception {
    if (appIds.isEmpty()) {
      return;
    }
    var pool =
        io.orderpush.persistence.pg.PgPools.create(
            vertx, TestServices.migratedPg(), "cleanup", 1, 10);
    pool.preparedQuery("DELETE FROM apps WHERE app_id = ANY($1)")
        .execute(
            io.vertx.sqlclient.Tuple.tuple()
                .addArrayOfUUID(appIds.stream().map(UUID::fromString).toArray(UUID[]::new)))
        .eventually(pool::close)
        .toCompletionStage()
        .toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
  }

  /** The cursors Redis holds for these channels (0 where it holds none). */
  static Map<String, Long> redisCursors(Vertx vertx, String appId, List<String> merchants)
      throws Exception {
    RedisStore redis =
        RedisStore.connect(vertx, TestServices.redis())
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    try {
      List<Long> cursors =
          new CursorStore(redis)
              .cursors(vertx.getOrCreateContext(), UUID.fromString(appId), merchants)
              .toCompletionStage()
              .toCompletableFuture()
              .get(10, TimeUnit.SECONDS);
      Map<String, Long> out = new HashMap<>();
      for (int i = 0; i < merchants.size(); i++) {
        out.put(merchants.get(i), Math.max(0, cursors.get(i)));
      }
      return out;
    } finally {
      redis.close(vertx).toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
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
   * cut off. It records every seq it is sent again (legal above the cursor, checked by the caller)
   * and reports gaps, a seq sent twice on one connection, and any failure of its own handler.
   */
  static void consume(
      Vertx vertx,
      int port,
      String token,
      Map<String, Long> applied,
      List<String> problems,
      List<Connection> connections,
      AtomicBoolean restarted,
      AtomicBoolean running) {
    while (running.get()) {
      try {
        AtomicReference<StreamClient> self = new AtomicReference<>();
        Connection conn = new Connection();
        StreamClient c =
            StreamClient.connect(
                    vertx,
                    port,
                    token,
                    (m, events) -> {
                      try {
                        synchronized (applied) {
                          for (int i = 0; i < events.size(); i++) {
                            long seq = events.getJsonObject(i).getLong("seq");
                            Long before = conn.highestSent.put(m, seq);
                            if (before != null && seq <= before) {
                              problems.add(m + ": " + seq + " sent again on one connection");
                            }
                            long last = applied.getOrDefault(m, 0L);
                            if (seq == last + 1) {
                              applied.put(m, seq);
                            } else if (seq > last + 1) {
                              problems.add(m + ": gap, " + seq + " after " + last);
                            } else {
                              conn.repeats.add(new Repeat(m, seq));
                            }
                          }
                        }
                        if (self.get() != null && applied.containsKey(m)) {
                          self.get().ack(m, applied.get(m));
                        }
                      } catch (RuntimeException e) {
                        problems.add("consumer failed: " + e);
                      }
                    })
                .toCompletionStage()
                .toCompletableFuture()
                .get(5, TimeUnit.SECONDS);
        // The old process is dead before the flag is set and the new one listens only after it,
        // so a connection established after the flag is the restarted gateway's.
        conn.toRestartedGateway = restarted.get();
        connections.add(conn);
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
