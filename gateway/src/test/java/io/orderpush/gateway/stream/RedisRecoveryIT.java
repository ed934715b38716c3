package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Redis dies and comes back empty in the middle of delivery, on a Redis of this test's own: ingest
 * goes on meanwhile, delivery resumes by itself from the cursor checkpoints, nothing is lost, and
 * only events above the last checkpoint are delivered again.
 */
class RedisRecoveryIT {

  static final Duration WAIT = Duration.ofSeconds(60);

  static Process startRedis(int port) throws Exception {
    Process p =
        new ProcessBuilder(
                "redis-server",
                "--port",
                Integer.toString(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no")
            .redirectErrorStream(true)
            .redirectOutput(new File("target", "redis-recovery-it.log"))
            .start();
    Await.until("redis on " + port, WAIT, () -> ping(port));
    return p;
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
    Assumptions.assumeTrue(
        new File("/usr/bin/redis-server").canExecute(), "needs redis-server (scripts/services.sh)");
    int port = TestGateway.freePort();
    Process redis = startRedis(port);
    try (TestGateway gw =
            TestGateway.start(
                Map.of(
                    "GATEWAY_REDIS_URL",
                    "redis://127.0.0.1:" + port,
                    "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS",
                    "200"));
        StreamFixture fx = new StreamFixture(gw)) {
      TestApp app = fx.app("websocket");
      List<String> merchants = fx.merchants("redis", 5);
      merchants.forEach(m -> fx.grant(app, m));

      Map<String, Long> applied = new ConcurrentHashMap<>();
      Map<String, Long> firstAgain = new ConcurrentHashMap<>();
      List<String> gaps = new CopyOnWriteArrayList<>();
      AtomicBoolean running = new AtomicBoolean(true);
      AtomicReference<StreamClient> current = new AtomicReference<>();
      Thread consumer =
          new Thread(
              () -> {
                while (running.get()) {
                  try {
                    AtomicReference<StreamClient> self = new AtomicReference<>();
                    StreamClient c =
                        StreamFixture.join(
                            StreamClient.connect(
                                fx.vertx,
                                gw.port,
                                app.token(),
                                (m, events) -> {
                                  synchronized (applied) {
                                    for (int i = 0; i < events.size(); i++) {
                                      long seq = events.getJsonObject(i).getLong("seq");
                                      long last = applied.getOrDefault(m, 0L);
                                      if (seq == last + 1) {
                                        applied.put(m, seq);
                                      } else if (seq <= last) {
                                        firstAgain.merge(m, seq, Math::min);
                                      } else {
                                        gaps.add(m + ": " + seq + " after " + last);
                                      }
                                    }
                                  }
                                  if (self.get() != null) {
                                    self.get().ack(m, applied.get(m));
                                  }
                                }));
                    self.set(c);
                    current.set(c);
                    while (running.get() && !c.closed) {
                      Thread.sleep(20);
                    }
                  } catch (Exception reconnectLater) {
                    try {
                      Thread.sleep(200);
                    } catch (InterruptedException e) {
                      return;
                    }
                  }
                }
              });
      consumer.start();

      fx.ingest(merchants, 1000, 100);
      Await.until(
          "the first 1000 applied and checkpointed",
          WAIT,
          () ->
              merchants.stream()
                  .allMatch(
                      m ->
                          applied.getOrDefault(m, 0L) == fx.head(m)
                              && checkpoint(fx, app, m) == fx.head(m)));
      Map<String, Long> checkpoints = new HashMap<>();
      merchants.forEach(m -> checkpoints.put(m, checkpoint(fx, app, m)));

      redis.destroyForcibly();
      redis.waitFor(10, TimeUnit.SECONDS);
      Await.until(
          "readiness to see Redis down",
          WAIT,
          () -> gw.send("GET", "/health/ready", null, null).statusCode() == 503);
      Await.until(
          "the metric to see Redis down",
          WAIT,
          () ->
              gw.send("GET", "/metrics", null, null)
                  .body()
                  .contains("gateway_dependency_up{dependency=\"redis\"} 0.0"));
      fx.ingest(merchants, 1000, 100); // ingest does not need Redis
      long appliedBefore = applied.values().stream().mapToLong(Long::longValue).sum();
      redis = startRedis(port); // back, and empty
      long back = System.nanoTime();
      Await.until(
          "delivery to resume",
          WAIT,
          () -> applied.values().stream().mapToLong(Long::longValue).sum() > appliedBefore);
      System.out.printf(
          "redis-recovery: delivery resumed %d ms after Redis came back empty%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - back));

      Await.until(
          "all 2000 applied",
          WAIT,
          () -> merchants.stream().allMatch(m -> applied.getOrDefault(m, 0L) == fx.head(m)),
          applied::toString);
      running.set(false);
      consumer.join(10_000);
      if (current.get() != null) {
        current.get().close();
      }
      assertThat(gaps).isEmpty();
      assertThat(merchants.stream().mapToLong(fx::head).sum()).isEqualTo(2000);
      for (String m : merchants) {
        if (firstAgain.containsKey(m)) {
          assertThat(firstAgain.get(m))
              .as("redelivered for " + m)
              .isGreaterThan(checkpoints.get(m));
        }
      }
      Await.until(
          "ready again",
          WAIT,
          () -> gw.send("GET", "/health/ready", null, null).statusCode() == 200);
    } finally {
      redis.destroyForcibly();
    }
  }

  static long checkpoint(StreamFixture fx, TestApp app, String m) {
    var rows =
        StreamFixture.join(
            fx.gw
                .gateway
                .pool()
                .preparedQuery(
                    "SELECT cursor FROM cursor_checkpoints WHERE app_id = $1 AND merchant_id = $2")
                .execute(Tuple.of(app.id(), m)));
    for (Row r : rows) {
      return r.getLong(0);
    }
    return -1;
  }
}
