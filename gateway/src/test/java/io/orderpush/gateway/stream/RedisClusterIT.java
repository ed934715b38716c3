package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.orderpush.persistence.testing.TestServices;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * One gateway on the 3-master Redis Cluster that {@code GATEWAY_REDIS_CLUSTER=true
 * scripts/services.sh} starts: cursors spread over the shards, the scripts' cache flushed on every
 * master mid-stream (every script must come back through EVAL), and a master shut down and started
 * again during delivery. Nothing may be lost, and every cursor must end at its head.
 */
class RedisClusterIT {

  static final Duration WAIT = Duration.ofSeconds(60);
  static final List<Integer> MASTERS = List.of(7000, 7001, 7002);

  static Map<String, String> env() {
    return Map.of(
        "GATEWAY_REDIS_CLUSTER", "true",
        "GATEWAY_REDIS_URL", TestServices.redisClusterUrl(),
        "GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "200");
  }

  static String redisCli(int port, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("redis-cli", "-p", Integer.toString(port)));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return out;
  }

  /** The merchants applied exactly once from 1 to their head, whatever was redelivered. */
  static void assertDense(StreamFixture fx, List<StreamClient> clients, List<String> merchants) {
    for (String m : merchants) {
      TreeSet<Long> seen = new TreeSet<>();
      for (StreamClient c : clients) {
        List<Long> seqs = c.received().getOrDefault(m, List.of());
        for (int i = 1; i < seqs.size(); i++) {
          assertThat(seqs.get(i))
              .as("%s in order on one connection", m)
              .isGreaterThan(seqs.get(i - 1));
        }
        seen.addAll(seqs);
      }
      long head = fx.head(m);
      assertThat(seen).as(m).hasSize((int) head);
      assertThat(seen.first()).isEqualTo(1L);
      assertThat(seen.last()).isEqualTo(head);
    }
  }

  /** False while the cluster cannot answer (a master just restarted: CLUSTERDOWN for a moment). */
  static boolean atHeads(StreamFixture fx, TestApp app, List<String> merchants) {
    try {
      return merchants.stream().allMatch(m -> fx.cursor(app, m) == fx.head(m));
    } catch (RuntimeException notYet) {
      return false;
    }
  }

  static boolean received(StreamFixture fx, List<StreamClient> clients, List<String> merchants) {
    return merchants.stream()
        .allMatch(
            m -> {
              TreeSet<Long> seen = new TreeSet<>();
              clients.forEach(c -> seen.addAll(c.received().getOrDefault(m, List.of())));
              return seen.size() == fx.head(m);
            });
  }

  @Test
  void shouldDeliverEverythingWhenTheScriptCacheIsFlushedOnEveryMaster() throws Exception {
    try (TestGateway gw = TestGateway.start(env());
        StreamFixture fx = new StreamFixture(gw, TestServices.redisCluster())) {
      TestApp app = fx.app("websocket");
      List<String> merchants = fx.merchants("rc-flush", 30);
      merchants.forEach(m -> fx.grant(app, m));
      StreamClient c = fx.connect(app, gw.port, (m, e) -> {}, m -> {});
      c.autoAck = true;
      fx.ingest(merchants, 600, 50);
      fx.until("the first events acked", WAIT, () -> atHeads(fx, app, merchants));
      double reloadsBefore = Scrape.value(gw, "gateway_redis_script_reloads_total");

      for (int port : MASTERS) {
        assertThat(redisCli(port, "SCRIPT", "FLUSH")).isEqualTo("OK");
      }
      fx.ingest(merchants, 600, 50);

      fx.until("everything received", WAIT, () -> received(fx, List.of(c), merchants));
      fx.until("every cursor at its head", WAIT, () -> atHeads(fx, app, merchants));
      assertDense(fx, List.of(c), merchants);
      assertThat(c.closed).as("no ack failed").isFalse();
      assertThat(Scrape.value(gw, "gateway_redis_script_reloads_total"))
          .as("each master answered NOSCRIPT once and got the script through EVAL")
          .isGreaterThan(reloadsBefore);
      c.close();
    }
  }

  @Test
  void shouldLoseNothingWhenAMasterRestartsDuringDelivery() throws Exception {
    try (TestGateway gw = TestGateway.start(env());
        StreamFixture fx = new StreamFixture(gw, TestServices.redisCluster())) {
      TestApp app = fx.app("websocket");
      List<String> merchants = fx.merchants("rc-restart", 30);
      merchants.forEach(m -> fx.grant(app, m));
      List<StreamClient> clients = new ArrayList<>();
      StreamClient first = fx.connect(app, gw.port, (m, e) -> {}, m -> {});
      first.autoAck = true;
      clients.add(first);
      fx.ingest(merchants, 600, 50);
      fx.until("delivery under way", WAIT, () -> first.total() >= 100);

      // A master goes away with the cursors of about a third of the channels; AOF keeps them.
      redisCli(7001, "SHUTDOWN");
      fx.ingest(merchants, 600, 50);
      ProcessBuilder restart =
          new ProcessBuilder(new File("../scripts/services.sh").getPath())
              .redirectErrorStream(true)
              .redirectOutput(new File("target/redis-cluster-restart.log"));
      restart.environment().put("GATEWAY_REDIS_CLUSTER", "true");
      Process services = restart.start();
      assertThat(services.waitFor(120, TimeUnit.SECONDS)).isTrue();
      assertThat(services.exitValue()).as("see target/redis-cluster-restart.log").isZero();
      fx.ingest(merchants, 600, 50);

      // An ack that failed while the master was away closed the connection (ack_failed): the
      // app connects again, and gets everything above the stored cursors.
      fx.until(
          "everything received",
          WAIT,
          () -> {
            StreamClient last = clients.get(clients.size() - 1);
            if (last.closed) {
              StreamClient again = fx.connect(app, gw.port, (m, e) -> {}, m -> {});
              again.autoAck = true;
              clients.add(again);
            }
            return received(fx, clients, merchants);
          });
      fx.until("every cursor at its head", WAIT, () -> atHeads(fx, app, merchants));
      assertDense(fx, clients, merchants);
      System.out.printf(
          "master restart: %d connections, %d events received%n",
          clients.size(), clients.stream().mapToInt(StreamClient::total).sum());
      clients.forEach(StreamClient::close);
    }
  }
}
