package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** One app granted 10,000 merchants: the group takes them all, and delivery reaches the few that move. */
class StreamScaleIT {

  @Test
  void shouldServeAnAppGrantedTenThousandMerchantsAcrossItsConnections() {
    try (TestGateway gw = TestGateway.start(Map.of()); StreamFixture fx = new StreamFixture(gw)) {
      TestApp app = fx.app("websocket");
      String prefix = fx.merchants("scale", 1).get(0);
      StreamFixture.join(gw.gateway.pool().preparedQuery(
              "INSERT INTO grants (app_id, merchant_id, start_seq) SELECT $1, $2 || '-' || i, 0 FROM generate_series(1, 10000) i")
          .execute(Tuple.of(app.id(), prefix)));
      List<StreamClient> group = List.of(fx.connect(app), fx.connect(app));
      group.forEach(c -> c.autoAck = true);
      Await.until("10,000 channels shared by two connections", Duration.ofSeconds(120),
          () -> group.get(0).assigned.size() == 5000 && group.get(1).assigned.size() == 5000,
          () -> StreamIT.sizes(group));

      List<String> active = new ArrayList<>();
      for (int i = 1; i <= 10000; i += 100) {
        active.add(prefix + "-" + i);
      }
      fx.ingest(active, 2000, 200);
      Await.until("2,000 events over 100 of them", Duration.ofSeconds(60),
          () -> group.get(0).total() + group.get(1).total() == 2000);
      for (String m : active) {
        StreamClient owner = group.get(0).assigned.contains(m) ? group.get(0) : group.get(1);
        assertThat(owner.received.getOrDefault(m, List.of())).containsExactlyElementsOf(StreamIT.oneTo(fx.head(m)));
      }
      group.forEach(StreamClient::close);
    }
  }
}
