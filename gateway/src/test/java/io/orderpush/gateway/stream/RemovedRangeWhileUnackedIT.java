package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Events;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Retention removed the events after a batch the app has not acked yet, more than a read's worth:
 * the channel passes over them only once everything delivered is acked, so the cursor never moves
 * past an unacked event and then follows the app's ack across the gap, instead of the window
 * filling with removed seqs for good.
 */
class RemovedRangeWhileUnackedIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;
  StreamFixture fx;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of());
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @AfterEach
  void close() {
    fx.close();
  }

  @Test
  void shouldPassARemovedRangeOnlyAfterTheAckAndThenDeliverPastIt() {
    fx = new StreamFixture(gw);
    StreamFixture.TestApp app = fx.app("websocket");
    String m = fx.merchants("unacked-gap", 1).get(0);
    fx.grant(app, m);
    StreamClient consumer = fx.connect(app);
    fx.until("assigned", WAIT, () -> consumer.assigned().contains(m));
    assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
        .isEqualTo(200);
    fx.until(
        "seq 1 delivered", WAIT, () -> consumer.received().getOrDefault(m, List.of()).size() == 1);

    // Seqs 2-3000 were committed and removed by retention before the channel got to them (far more
    // than the window of 1,000); seq 3001 is stored. Nothing tells the gateway.
    Events.removeBehindTheGatewaysBack(gw, List.of(m), 3000);
    Events.commitBehindTheGatewaysBack(gw, List.of(m), "e-3001");
    double readsBefore = Scrape.value(gw, "gateway_delivery_log_reads_total");
    double deferredBefore = Scrape.value(gw, "gateway_delivery_expired_deferred_total");
    // Seq 3002 through the gateway: the channel wakes and reads from seq 2, with seq 1 unacked.
    assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-3002")))).statusCode())
        .isEqualTo(200);
    fx.until(
        "the channel read the log with seq 1 unacked, and left the removed range for after the ack",
        WAIT,
        () ->
            Scrape.value(gw, "gateway_delivery_log_reads_total") > readsBefore
                && Scrape.value(gw, "gateway_delivery_expired_deferred_total") > deferredBefore);
    assertThat(fx.cursor(app, m)).as("nothing acked: the cursor stays").isZero();
    assertThat(consumer.received().get(m)).containsExactly(1L);

    consumer.ack(m, 1);
    fx.until(
        "seqs 3001 and 3002 delivered after the ack",
        WAIT,
        () -> consumer.received().get(m).containsAll(List.of(3001L, 3002L)),
        () -> "received " + consumer.received().get(m));
    assertThat(consumer.received().get(m)).containsExactly(1L, 3001L, 3002L);
    JsonObject first =
        consumer.messages.stream()
            .filter(msg -> "events".equals(msg.getString("type")))
            .flatMap(msg -> msg.getJsonArray("events").stream().map(JsonObject.class::cast))
            .filter(e -> e.getLong("seq") == 3001)
            .findFirst()
            .orElseThrow();
    assertThat(first.getLong("prevSeq")).as("the gap, in prevSeq").isEqualTo(3000);

    consumer.ack(m, 3002);
    fx.until("the cursor follows the ack across the gap", WAIT, () -> fx.cursor(app, m) == 3002);
  }
}
