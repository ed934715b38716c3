package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * One app granted 10,000 merchants: the group takes them all, and delivery reaches the few that
 * move.
 */
class StreamScaleIT {

  @Test
  void shouldServeAnAppGrantedTenThousandMerchantsAcrossItsConnections() {
    try (TestGateway gw = TestGateway.start(Map.of());
        StreamFixture fx = new StreamFixture(gw)) {
      TestApp app = fx.app("websocket");
      String prefix = fx.merchants("scale", 1).get(0);
      StreamFixture.join(
          gw.gateway
              .pool()
              .preparedQuery(
                  "INSERT INTO grants (app_id, merchant_id, start_seq) SELECT $1, $2 || '-' || i, 0 FROM generate_series(1, 10000) i")
              .execute(Tuple.of(app.id(), prefix)));
      List<StreamClient> group = List.of(fx.connect(app), fx.connect(app));
      group.forEach(c -> c.autoAck = true);
      fx.until(
          "10,000 channels shared by two connections",
          Duration.ofSeconds(120),
          () -> group.get(0).assigned().size() == 5000 && group.get(1).assigned().size() == 5000,
          () -> StreamIT.sizes(group));

      List<String> active = new ArrayList<>();
      for (int i = 1; i <= 10000; i += 100) {
        active.add(prefix + "-" + i);
      }
      fx.ingest(active, 2000, 200);
      fx.until(
          "2,000 events over 100 of them",
          Duration.ofSeconds(60),
          () -> group.get(0).total() + group.get(1).total() == 2000);
      for (String m : active) {
        StreamClient owner = group.get(0).assigned().contains(m) ? group.get(0) : group.get(1);
        assertThat(owner.received().getOrDefault(m, List.of()))
            .containsExactlyElementsOf(StreamIT.oneTo(fx.head(m)));
      }
      group.forEach(StreamClient::close);
    }
  }

  @Test
  void shouldCarryAHundredThousandChannelsOnOneNode() {
    try (TestGateway gw = TestGateway.start(Map.of());
        StreamFixture fx = new StreamFixture(gw)) {
      String prefix = fx.merchants("wide", 1).get(0);
      List<StreamClient> consumers = new ArrayList<>();
      for (int a = 0; a < 10; a++) {
        TestApp app = fx.app("websocket");
        StreamFixture.join(
            gw.gateway
                .pool()
                .preparedQuery(
                    "INSERT INTO grants (app_id, merchant_id, start_seq) SELECT $1, $2 || '-' || i, 0 FROM generate_series(1, 10000) i")
                .execute(Tuple.of(app.id(), prefix)));
        StreamClient c = fx.connect(app);
        c.autoAck = true;
        consumers.add(c);
      }
      fx.until(
          "100,000 channels assigned",
          Duration.ofSeconds(120),
          () -> consumers.stream().mapToInt(c -> c.assigned().size()).sum() == 100_000);
      // Idle channels cost nothing: one merchant's events still reach all ten apps at once.
      String m = prefix + "-777";
      fx.ingest(List.of(m), 100, 100);
      fx.until(
          "the events at all ten apps",
          Duration.ofSeconds(60),
          () -> consumers.stream().allMatch(c -> c.count(m) == 100));
      double channels =
          gw.send("GET", "/metrics", null, null)
              .body()
              .lines()
              .filter(l -> l.startsWith("gateway_delivery_channels "))
              .mapToDouble(l -> Double.parseDouble(l.split(" ")[1]))
              .findFirst()
              .orElse(-1);
      assertThat(channels)
          .isGreaterThanOrEqualTo(100_000); // plus any left by callback apps of other tests
      consumers.forEach(StreamClient::close);
    }
  }
}
