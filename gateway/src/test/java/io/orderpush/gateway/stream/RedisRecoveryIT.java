package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.GatewayProcess;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.TestRandom;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
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
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Redis dies and comes back empty, on a redis-server of this test's own, while a WebSocket app has
 * acked events newer than the last cursor checkpoint in PostgreSQL: first with the gateway up, then
 * together with a SIGKILLed gateway, so that the checkpoint is the only record left. Ingest goes on
 * meanwhile; nothing is lost, and nothing at or below the checkpoint is delivered again.
 */
class RedisRecoveryIT {

  static final Duration WAIT = Duration.ofSeconds(60);

  /** An event sent again to the consumer, and which gateway phase sent it. */
  record Repeat(String merchantId, long seq, int phase) {}

  static String redisServer() {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      File f = new File(dir, "redis-server");
      if (f.canExecute()) {
        return f.getPath();
      }
    }
    return fail(
        "RedisRecoveryIT needs redis-server on the PATH to run a Redis of its own"
            + " (scripts/services.sh installs it); it cannot run, so it fails rather than skip");
  }

  static Process startRedis(String binary, int port) throws Exception {
    Process p =
        new ProcessBuilder(
                binary,
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no")
            .redirectErrorStream(true)
            .redirectOutput(
                ProcessBuilder.Redirect.appendTo(new File("target", "redis-recovery-it.log")))
            .start();
    Await.until("redis on " + port, WAIT, () -> ping(port));
    return p;
  }

  static void killRedis(Process redis) throws InterruptedException {
    redis.destroyForcibly(); // SIGKILL: nothing saved (and --save "" keeps nothing anyway)
    assertThat(redis.waitFor(10, TimeUnit.SECONDS)).as("redis-server exited").isTrue();
  }

  static boolean ping(int port) {
    try (Socket s = new Socket("127.0.0.1", port)) {
      OutputStream out = s.getOutputStream();
      out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      return new String(in.readNBytes(7), StandardCharsets.US_ASCII).startsWith("+PONG");
    } catch (IOException e) {
      return false;
    }
  }

  @Test
  void shouldResumeFromCheckpointsWhenRedisComesBackEmpty() throws Exception {
    String redisServer = redisServer();
    TestRandom random = TestRandom.forTest("RedisRecoveryIT");
    Random choices = random.fork(0);
    int redisPort = TestGateway.freePort();
    int port = TestGateway.freePort();
    // Checkpoints only when a gateway stops (or after ten minutes): acks after a restart stay
    // newer than the checkpoint for the rest of the test.
    Map<String, String> env =
        Map.of(
            "GATEWAY_REDIS_URL",
            "redis://127.0.0.1:" + redisPort,
            "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS",
            "600000");
    String log = "redis-recovery-it-gateway.log";
    Vertx vertx = Vertx.vertx();
    Pool pool = PgPools.create(vertx, TestServices.migratedPg(), "redis-recovery-it", 1, 10);
    HttpClient http = HttpClient.newHttpClient();
    AtomicReference<Process> redis = new AtomicReference<>(startRedis(redisServer, redisPort));
    AtomicReference<GatewayProcess> gateway =
        new AtomicReference<>(GatewayProcess.start(port, log, env));
    String appId = null;
    AtomicBoolean running = new AtomicBoolean(true);
    Thread consumer = null;
    int exit;
    try {
      JsonObject app =
          new JsonObject(
              TestGateway.send(
                      port,
                      http,
                      "POST",
                      "/v1/apps",
                      TestGateway.ADMIN_TOKEN,
                      "{\"name\":\"redis-it\",\"delivery\":{\"mode\":\"websocket\"}}")
                  .body());
      appId = app.getString("appId");
      List<String> merchants = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        String m = TestServices.uniqueMerchant("redis");
        merchants.add(m);
        HttpResponse<String> r =
            TestGateway.send(
                port,
                http,
                "PUT",
                "/v1/merchants/" + m + "/grants/" + appId,
                TestGateway.ADMIN_TOKEN,
                "{\"start\":\"earliest\"}");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      }

      Map<String, Long> applied = new ConcurrentHashMap<>();
      List<Repeat> repeats = new CopyOnWriteArrayList<>();
      List<String> problems = new CopyOnWriteArrayList<>();
      AtomicInteger phase = new AtomicInteger(1);
      String token = app.getString("token");
      consumer =
          new Thread(() -> consume(vertx, port, token, applied, repeats, problems, phase, running));
      consumer.start();
      UUID id = UUID.fromString(appId);

      // Phase 1: delivered, acked, and checkpointed by a clean stop.
      ingest(port, http, merchants, 1000, choices);
      awaitApplied("the first 1000", merchants, applied, pool);
      awaitAcked(port, http, token, applied);
      assertThat(stop(gateway.get())).as("exit code after SIGTERM").isZero();
      Map<String, Long> checkpoints = new HashMap<>();
      for (String m : merchants) {
        checkpoints.put(m, checkpoint(pool, id, m));
      }
      assertThat(checkpoints)
          .as("the checkpoints a clean stop writes")
          .isEqualTo(new HashMap<>(applied));

      // Phase 2: more acks, newer than the checkpoints; then Redis dies with the gateway up.
      phase.set(2);
      gateway.set(GatewayProcess.start(port, log, env));
      ingest(port, http, merchants, 1000, choices);
      awaitApplied("the next 1000", merchants, applied, pool);
      awaitAcked(port, http, token, applied);
      for (String m : merchants) {
        assertThat(checkpoint(pool, id, m))
            .as("checkpoint of " + m + " while its acks moved on")
            .isEqualTo(checkpoints.get(m))
            .isLessThan(applied.get(m));
      }
      killRedis(redis.get());
      Await.until(
          "readiness to see Redis down",
          WAIT,
          () ->
              TestGateway.send(port, http, "GET", "/health/ready", null, null).statusCode() == 503);
      Await.until(
          "the metric to see Redis down",
          WAIT,
          () ->
              TestGateway.send(port, http, "GET", "/metrics", null, null)
                  .body()
                  .contains("gateway_dependency_up{dependency=\"redis\"} 0.0"));
      ingest(port, http, merchants, 500, choices); // ingest does not need Redis
      redis.set(startRedis(redisServer, redisPort)); // back, and empty
      awaitApplied("all 2500 after Redis came back", merchants, applied, pool);
      Await.until(
          "ready again",
          WAIT,
          () ->
              TestGateway.send(port, http, "GET", "/health/ready", null, null).statusCode() == 200);

      // Phase 3: Redis and the gateway die together: the checkpoint is all that is left.
      gateway.get().kill();
      killRedis(redis.get());
      for (String m : merchants) {
        assertThat(checkpoint(pool, id, m))
            .as("checkpoint of " + m + " before the restart")
            .isEqualTo(checkpoints.get(m));
      }
      phase.set(3);
      redis.set(startRedis(redisServer, redisPort));
      gateway.set(GatewayProcess.start(port, log, env));
      ingest(port, http, merchants, 500, choices);
      awaitApplied("all 3000 after the restart", merchants, applied, pool);
      running.set(false);
      consumer.join(10_000);

      assertThat(problems).as("gaps, or a consumer failure; " + random).isEmpty();
      Map<String, Long> heads = heads(pool, merchants);
      assertThat(heads.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(3000);
      assertThat(applied).isEqualTo(heads);
      for (String m : merchants) {
        long cp = checkpoints.get(m);
        // Losing Redis costs redelivery since the checkpoint at most, never anything at or below.
        assertThat(repeats)
            .as("sent again at or below the checkpoint %d of %s; %s", cp, m, random)
            .noneMatch(r -> r.merchantId().equals(m) && r.seq() <= cp);
        // With the gateway gone too, delivery resumes right after the checkpoint.
        assertThat(
                repeats.stream()
                    .filter(r -> r.merchantId().equals(m) && r.phase() == 3)
                    .mapToLong(Repeat::seq)
                    .min())
            .as("first seq sent again to " + m + " after Redis and the gateway were lost")
            .hasValue(cp + 1);
      }
      System.out.printf(
          "redis-recovery: %d events sent again with the gateway up, %d after the restart%n",
          repeats.stream().filter(r -> r.phase() == 2).count(),
          repeats.stream().filter(r -> r.phase() == 3).count());
    } finally {
      running.set(false);
      if (consumer != null) {
        consumer.join(10_000);
      }
      exit = stop(gateway.get());
      redis.get().destroyForcibly();
      if (appId != null) {
        join(
            pool.preparedQuery("DELETE FROM apps WHERE app_id = $1")
                .execute(Tuple.of(UUID.fromString(appId))));
      }
      join(pool.close());
      join(vertx.close());
    }
    assertThat(exit).as("exit code after SIGTERM (-1: did not exit in time)").isZero();
  }

  /**
   * A WebSocket app that applies each merchant's events once, acks them, reconnects whenever cut
   * off, and records every event it is sent again with the phase it arrived in.
   */
  static void consume(
      Vertx vertx,
      int port,
      String token,
      Map<String, Long> applied,
      List<Repeat> repeats,
      List<String> problems,
      AtomicInteger phase,
      AtomicBoolean running) {
    while (running.get()) {
      try {
        AtomicReference<StreamClient> self = new AtomicReference<>();
        StreamClient c =
            StreamFixture.join(
                StreamClient.connect(
                    vertx,
                    port,
                    token,
                    (m, events) -> {
                      try {
                        synchronized (applied) {
                          for (int i = 0; i < events.size(); i++) {
                            long seq = events.getJsonObject(i).getLong("seq");
                            long last = applied.getOrDefault(m, 0L);
                            if (seq == last + 1) {
                              applied.put(m, seq);
                            } else if (seq <= last) {
                              repeats.add(new Repeat(m, seq, phase.get()));
                            } else {
                              problems.add(m + ": gap, " + seq + " after " + last);
                            }
                          }
                        }
                        if (self.get() != null && applied.containsKey(m)) {
                          self.get().ack(m, applied.get(m));
                        }
                      } catch (RuntimeException e) {
                        problems.add("consumer failed: " + e);
                      }
                    }));
        self.set(c);
        while (running.get() && !c.closed) {
          Thread.sleep(20);
        }
        if (!c.closed) {
          c.close();
        }
      } catch (InterruptedException e) {
        return;
      } catch (Exception reconnectLater) {
        try {
          Thread.sleep(200);
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  static void ingest(int port, HttpClient http, List<String> merchants, int count, Random choices) {
    for (int done = 0; done < count; done += 100) {
      List<JsonObject> events = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        events.add(
            Events.event(
                merchants.get(choices.nextInt(merchants.size())), UUID.randomUUID().toString()));
      }
      HttpResponse<String> r =
          TestGateway.send(
              port, http, "POST", "/v1/events", TestGateway.INGEST_TOKEN, Events.batch(events));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
  }

  static void awaitApplied(
      String what, List<String> merchants, Map<String, Long> applied, Pool pool) {
    Await.until(
        what + " applied",
        WAIT,
        () -> heads(pool, merchants).equals(applied),
        () -> "applied " + applied + ", heads " + heads(pool, merchants));
  }

  /** Waits until the cursors in Redis (through the channels API) are what the app applied. */
  static void awaitAcked(int port, HttpClient http, String token, Map<String, Long> applied) {
    Await.until(
        "the acks stored in Redis",
        WAIT,
        () -> cursors(port, http, token).equals(applied),
        () -> "cursors " + cursors(port, http, token) + ", applied " + applied);
  }

  static Map<String, Long> cursors(int port, HttpClient http, String token) {
    Map<String, Long> cursors = new HashMap<>();
    new JsonObject(TestGateway.send(port, http, "GET", "/v1/channels", token, null).body())
        .getJsonArray("channels")
        .forEach(
            o ->
                cursors.put(
                    ((JsonObject) o).getString("merchantId"), ((JsonObject) o).getLong("cursor")));
    return cursors;
  }

  static Map<String, Long> heads(Pool pool, List<String> merchants) {
    Map<String, Long> heads = new HashMap<>();
    for (Row r :
        join(
            pool.preparedQuery(
                    "SELECT merchant_id, head_seq FROM merchants WHERE merchant_id = ANY($1)")
                .execute(Tuple.tuple().addArrayOfString(merchants.toArray(String[]::new))))) {
      heads.put(r.getString(0), r.getLong(1));
    }
    return heads;
  }

  static long checkpoint(Pool pool, UUID appId, String m) {
    for (Row r :
        join(
            pool.preparedQuery(
                    "SELECT cursor FROM cursor_checkpoints WHERE app_id = $1 AND merchant_id = $2")
                .execute(Tuple.of(appId, m)))) {
      return r.getLong(0);
    }
    return -1;
  }

  /** SIGTERM and the exit code; -1 if it did not exit in time. */
  static int stop(GatewayProcess gateway) throws InterruptedException {
    try {
      return gateway.terminate(Duration.ofSeconds(30));
    } catch (IllegalStateException notInTime) {
      return -1;
    }
  }

  static <T> T join(io.vertx.core.Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }
}
