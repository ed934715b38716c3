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
    // A first event, acked by both: both claims have landed and read once before counting starts.
    fx.ingest(List.of(m), 1, 1);
    fx.until("the first event delivered to both", WAIT, () -> a.count(m) == 1 && h.count(m) == 1);
    h.ack(m, 1);
    fx.until(
        "acked by both, and dropped",
        WAIT,
        () -> fx.cursor(acking, m) == 1 && fx.cursor(holding, m) == 1 && cached() == 0);
    double readsBefore = Scrape.value(gw, "gateway_delivery_log_reads_total");
    double hitsBefore = Scrape.value(gw, "gateway_delivery_tail_hits_total");

    fx.ingest(List.of(m), 40, 10); // seqs 2-41
    fx.until(
        "both apps have all 41, one of them acked",
        WAIT,
        () -> a.count(m) == 41 && h.count(m) == 41 && fx.cursor(acking, m) == 41);
    assertThat(cached()).as("the holding app has acked none of the 40: all stay").isEqualTo(40);

    h.ack(m, 26);
    fx.until("the holding app's ack committed", WAIT, () -> fx.cursor(holding, m) == 26);
    fx.until("what both acked is dropped", WAIT, () -> cached() == 15);

    h.ack(m, 41);
    fx.until("everything acked: nothing kept", WAIT, () -> cached() == 0);

    fx.ingest(List.of(m), 10, 10);
    fx.until("the next ones delivered to both", WAIT, () -> a.count(m) == 51 && h.count(m) == 51);
    assertThat(Scrape.value(gw, "gateway_delivery_log_reads_total"))
        .as("every event from memory, none read back from the log")
        .isEqualTo(readsBefore);
    assertThat(Scrape.value(gw, "gateway_delivery_tail_hits_total")).isGreaterThan(hitsBefore);
    h.ack(m, 51);
    fx.until("and dropped once acked", WAIT, () -> cached() == 0);
  }
}
