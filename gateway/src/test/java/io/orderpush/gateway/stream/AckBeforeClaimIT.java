package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.orderpush.gateway.testing.TcpProxy;
import io.orderpush.persistence.testing.TestServices;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A client told {@code assigned} may ack at once, before the gateway's claim of the channel has
 * come back from Redis (here: held back by a proxy that stops forwarding). Such an ack is of an
 * earlier position and must be ignored quietly, not answered {@code not_assigned}: the merchant is
 * assigned to this connection, and a client that believed the error would drop its work.
 */
class AckBeforeClaimIT {

  static final Duration WAIT = Duration.ofSeconds(60);

  @Test
  void shouldIgnoreAnAckSentWhileTheChannelIsStillBeingClaimed() {
    URI redis = URI.create(TestServices.redisUrl());
    try (TcpProxy proxy = OwnershipClusterIT.redisProxy();
        TestGateway gw =
            TestGateway.start(
                Map.of(
                    "GATEWAY_REDIS_URL",
                    "redis://127.0.0.1:" + proxy.port(),
                    // the assignment waits for the group registry's write and read to time out (two
                    // timeouts); the claim after it then hangs for one, while the client acks
                    "GATEWAY_REDIS_COMMAND_TIMEOUT_MS",
                    "1500",
                    // the held-back Redis must not cost the node its lease (6 s of it would cost
                    // the default's: the node would close the connection and stop delivering)
                    "GATEWAY_NODE_LEASE_MS",
                    "60000"));
        StreamFixture fx = new StreamFixture(gw)) {
      TestApp app = fx.app("websocket");
      String m = TestServices.uniqueMerchant("preclaim");
      fx.grant(app, m);

      proxy.blackhole(); // the claim that follows the assignment hangs
      StreamClient c = fx.connect(app, gw.port, (merchant, events) -> {}, assigned -> {});
      fx.until("assigned", WAIT, () -> c.assigned().contains(m));
      c.ack(m, 0);
      c.ack(m, 0);

      proxy.forward();
      proxy.cut(); // Lettuce reconnects through the proxy; the claim is retried and succeeds
      fx.ingest(List.of(m), 3, 3);
      fx.until("the events after the claim", WAIT, () -> c.count(m) == 3);
      c.ack(m, 3);
      fx.until("the cursor at 3", WAIT, () -> fx.cursor(app, m) == 3);

      assertThat(c.faults()).as("errors the gateway sent").isEmpty();
      assertThat(c.closed).isFalse();
      c.close();
    }
  }
}
