package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.orderpush.gateway.testing.TcpProxy;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * Claims beyond the few in flight wait in a queue, and each answer starts the next. With Redis's
 * connection gone, a claim fails at once, on the caller's stack (the client rejects commands while
 * disconnected), so its handler ran inside the loop that started it: the stack grew a level per
 * queued claim until it overflowed, leaking in-flight slots and stranding channels unclaimed.
 */
class ClaimBurstIT {

  static final Duration WAIT = Duration.ofSeconds(120);

  @Test
  void shouldClaimEveryChannelOfABurstWhoseClaimsFailedAtOnceWhileRedisWasAway() {
    URI redis = URI.create(TestServices.redisUrl());
    try (TcpProxy proxy = OwnershipClusterIT.redisProxy();
        TestGateway gw =
            TestGateway.start(
                Map.of(
                    "GATEWAY_REDIS_URL",
                    "redis://127.0.0.1:" + proxy.port() + redis.getPath(),
                    // a claim in flight that times out only starts the next: thousands still wait;
                    // the assignment itself waits for two (the group registry's write and read)
                    "GATEWAY_REDIS_COMMAND_TIMEOUT_MS",
                    "1500",
                    // Redis away for a while must not cost the node its lease (the longest allowed)
                    "GATEWAY_NODE_LEASE_MS",
                    "600000",
                    "GATEWAY_STREAM_MAX_CLIENT_MESSAGES_PER_SECOND",
                    "1000000"));
        StreamFixture fx = new StreamFixture(gw)) {
      TestApp app = fx.app("websocket");
      String prefix = fx.merchants("burst", 1).get(0);
      int n = 20_000;
      fx.grantRange(app, prefix, n);

      // The claims that follow the assignment hang in Redis's connection, the rest queue behind.
      double sent = StreamScaleIT.metric(gw, "gateway_redis_commands_total");
      proxy.blackhole();
      StreamClient client = fx.connect(app);
      client.autoAck = true;
      fx.until("every channel assigned", WAIT, () -> client.assigned().size() == n);
      fx.until(
          "the claims in flight sent",
          WAIT,
          () -> StreamScaleIT.metric(gw, "gateway_redis_commands_total") >= sent + 256);

      // The connection resets: the claims in flight fail, and each queued one fails at once.
      double failed = StreamScaleIT.metric(gw, "gateway_delivery_claim_failures_total");
      proxy.cut();
      fx.until(
          "the queued claims failed",
          WAIT,
          () ->
              StreamScaleIT.metric(gw, "gateway_delivery_claim_failures_total")
                  >= failed + n - 256);
      proxy.forward();
      proxy.cut(); // Lettuce reconnects through the proxy, forwarding again

      List<String> merchants = new ArrayList<>();
      for (int i = 1; i <= n; i++) {
        merchants.add(prefix + "-" + i);
      }
      for (int from = 0; from < n; from += 1000) {
        List<JsonObject> events = new ArrayList<>();
        for (String m : merchants.subList(from, from + 1000)) {
          events.add(Events.event(m, UUID.randomUUID().toString()));
        }
        var answer = gw.ingest(Events.batch(events));
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
      }
      fx.until(
          "an event of every channel, each claimed once Redis answered",
          WAIT,
          () -> {
            assertThat(client.closed).as("the connection closed").isFalse();
            return client.total() == n;
          },
          () -> client.total() + " of " + n);
      for (String m : merchants) {
        assertThat(client.received().get(m)).as(m).containsExactly(1L);
      }
      client.close();
    }
  }
}
