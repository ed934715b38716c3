package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The tail cache keeps a merchant's events only until every channel of it delivered here has acked
 * them: caught-up channels still get new events from memory, and nothing acked stays on the heap
 * for the collector to copy. A channel that has not acked keeps what it still needs at hand.
 */
class TailCacheAckedIT {

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

  static double cached() {
    return Scrape.value(gw, "gateway_delivery_tail_cache_events");
  }

  @Test
  void shouldKeepOnlyWhatSomeChannelHasNotAckedAndServeItFromMemory() {
    fx = new StreamFixture(gw);
    StreamFixture.TestApp acking = fx.app("websocket");
    StreamFixture.TestApp holding = fx.app("websocket");
    String m = fx.merchants("tail-acked", 1).get(0);
    fx.grant(acking, m);
    fx.grant(holding, m);
    StreamClient a = fx.connect(acking);
    StreamClient h = fx.connect(holding);
    a.autoAck = true;
    h.autoAck = true;
    h.holdAcks.add(m);
    fx.until("assigned", WAIT, () -> a.assigned().contains(m) && h.assigned().contains(m));
    double readsBefore = Scrape.value(gw, "gateway_delivery_log_reads_total");
    double hitsBefore = Scrape.value(gw, "gateway_delivery_tail_hits_total");

    fx.ingest(List.of(m), 40, 10);
    fx.until(
        "both apps have all 40, one of them acked",
        WAIT,
        () -> a.count(m) == 40 && h.count(m) == 40 && fx.cursor(acking, m) == 40);
    assertThat(cached()).as("the holding app has acked nothing: all 40 stay").isEqualTo(40);

    h.ack(m, 25);
    fx.until("the holding app's ack committed", WAIT, () -> fx.cursor(holding, m) == 25);
    fx.until("what both acked is dropped", WAIT, () -> cached() == 15);

    h.ack(m, 40);
    fx.until("everything acked: nothing kept", WAIT, () -> cached() == 0);

    fx.ingest(List.of(m), 10, 10);
    fx.until("the next ones delivered to both", WAIT, () -> a.count(m) == 50 && h.count(m) == 50);
    assertThat(Scrape.value(gw, "gateway_delivery_log_reads_total"))
        .as("every event from memory, none read back from the log")
        .isEqualTo(readsBefore);
    assertThat(Scrape.value(gw, "gateway_delivery_tail_hits_total")).isGreaterThan(hitsBefore);
    h.ack(m, 50);
    fx.until("and dropped once acked", WAIT, () -> cached() == 0);
  }
}
