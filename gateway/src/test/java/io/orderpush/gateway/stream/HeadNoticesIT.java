package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.GatewayProcess;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.orderpush.persistence.redis.RedisSettings;
import io.orderpush.persistence.testing.TestServices;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/**
 * An event ingested through one node reaches a WebSocket consumer on another through the head
 * notices. The delivery reconcile, the only other way a node learns of another's commits, runs
 * every 10 minutes here, so every arrival within the waits below was carried by a notice; the
 * commit-to-arrival times are printed, not asserted (the machine is shared).
 */
class HeadNoticesIT {

  static final Duration ROUND = Duration.ofSeconds(20);
  static final Map<String, String> ENV =
      Map.of(
          "GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "600000",
          "GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "600000",
          // B commits what it takes (no forwarding to a writer node), so A hears of it by notice
          "GATEWAY_INGEST_FORWARD", "false",
          // and the writer does not send its commits whole (CommitFeedIT)
          "GATEWAY_INGEST_COMMIT_FEED", "false");

  @Test
  void shouldWakeAConsumerOnOneNodeForEventsIngestedThroughAnother() throws Exception {
    across(Map.of(), TestServices.redis(), "head-notices-b.log");
  }

  @Test
  void shouldWakeAConsumerOnOneNodeForEventsIngestedThroughAnotherOnARedisCluster()
      throws Exception {
    across(
        Map.of(
            "GATEWAY_REDIS_CLUSTER", "true", "GATEWAY_REDIS_URL", TestServices.redisClusterUrl()),
        TestServices.redisCluster(),
        "head-notices-cluster-b.log");
  }

  static void across(Map<String, String> extra, RedisSettings redis, String bLog) throws Exception {
    Map<String, String> env = new HashMap<>(ENV);
    env.putAll(extra);
    GatewayProcess b = GatewayProcess.start(TestGateway.freePort(), bLog, env);
    try (TestGateway a = TestGateway.start(env);
        StreamFixture fx = new StreamFixture(a, redis)) {
      TestApp app = fx.app("websocket");
      List<String> merchants = fx.merchants("notice", 5);
      merchants.forEach(m -> fx.grant(app, m));
      Map<String, Long> arrivedAt = new ConcurrentHashMap<>();
      StreamClient c =
          fx.connect(
              app,
              a.port,
              (m, events) ->
                  events.forEach(
                      e ->
                          arrivedAt.put(
                              ((io.vertx.core.json.JsonObject) e).getString("eventId"),
                              System.nanoTime())),
              m -> {});
      c.autoAck = true;
      fx.until("assigned on A", ROUND, () -> c.assigned().containsAll(merchants));
      double receivedBefore =
          Scrape.value(a, "gateway_delivery_head_notices_total{outcome=\"received\"}");

      HttpClient http = HttpClient.newHttpClient();
      List<Double> millis = new ArrayList<>();
      for (int round = 0; round < 5; round++) {
        String eventId = UUID.randomUUID().toString();
        String merchant = merchants.get(round);
        long sent = System.nanoTime();
        CommitFeedIT.send(http, b.port, merchant, eventId);
        fx.until(
            "an event ingested through B delivered by A (round " + round + ")",
            ROUND,
            () -> arrivedAt.containsKey(eventId));
        millis.add((arrivedAt.get(eventId) - sent) / 1e6);
      }
      assertThat(Scrape.value(a, "gateway_delivery_head_notices_total{outcome=\"received\"}"))
          .as("A heard B's notices")
          .isGreaterThanOrEqualTo(receivedBefore + 5);
      System.out.printf("ingest on B to arrival on A, ms: %s%n", millis);
      c.close();
    } finally {
      b.terminate(Duration.ofSeconds(30));
    }
  }
}
