package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
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
      fx.grantRange(app, prefix, 10000);
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
        fx.grantRange(app, prefix, 10000);
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

  /**
   * A connection whose socket stopped taking data while thousands of its channels got events: once
   * it drains, the engine serves them all from the tail cache in one pass. Such a read completes at
   * once and its handler drives the connection again; served nested, the stack grew a level for
   * every channel until it overflowed, leaving channels stuck mid-read and their events unsent.
   */
  @Test
  void shouldServeThousandsOfChannelsQueuedBehindAFullSocketOnceItDrains() {
    // A window of 10: the large events below stop at it, and cannot fill the socket again after.
    // The client acks each of the 20,000 messages that come in a burst once it reads again. One
    // event loop: the engine writes on the socket's own thread, straight to the kernel, so the
    // socket takes the whole burst in one pass rather than only as much as the write queue holds.
    // The paused client answers no ping and acks nothing for a while: no timeout may close it.
    try (TestGateway gw =
            TestGateway.start(
                Map.of(
                    "GATEWAY_STREAM_WINDOW",
                    "10",
                    "GATEWAY_STREAM_MAX_CLIENT_MESSAGES_PER_SECOND",
                    "1000000",
                    "GATEWAY_HTTP_EVENT_LOOPS",
                    "1",
                    "GATEWAY_STREAM_IDLE_TIMEOUT_MS",
                    "600000",
                    "GATEWAY_STREAM_ACK_TIMEOUT_MS",
                    "600000"));
        StreamFixture fx = new StreamFixture(gw)) {
      TestApp app = fx.app("websocket");
      String prefix = fx.merchants("drain", 1).get(0);
      int n = 20_000;
      fx.grantRange(app, prefix, n);
      StreamClient client = fx.connect(app);
      client.autoAck = true;
      fx.until(
          "every channel assigned to the one connection",
          Duration.ofSeconds(120),
          () -> client.assigned().size() == n);

      // The client stops reading; a full window of large events for each of 40 merchants (24 MB)
      // fills the socket and the gateway's write queue behind it.
      client.ws.pause();
      double paused = metric(gw, "gateway_stream_paused_total");
      List<String> big = new ArrayList<>();
      for (int i = 1; i <= 40; i++) {
        big.add(prefix + "-" + i);
      }
      String data = "x".repeat(60_000);
      List<io.vertx.core.json.JsonObject> large = new ArrayList<>();
      for (int e = 0; e < 10; e++) {
        for (String m : big) {
          large.add(
              io.orderpush.gateway.Events.event(m, java.util.UUID.randomUUID().toString())
                  .put("data", new io.vertx.core.json.JsonObject().put("note", data)));
        }
      }
      for (int from = 0; from < large.size(); from += 50) {
        var answer =
            gw.ingest(
                io.orderpush.gateway.Events.batch(
                    large.subList(from, Math.min(large.size(), from + 50))));
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
      }
      fx.until(
          "the connection's write queue full",
          Duration.ofSeconds(30),
          () -> metric(gw, "gateway_stream_paused_total") > paused);

      // One small event for every other merchant: each wakes its channel, which waits in the
      // connection's ready queue with its event in the tail cache.
      List<String> others = new ArrayList<>();
      for (int i = big.size() + 1; i <= n; i++) {
        others.add(prefix + "-" + i);
      }
      ingestOneEach(gw, others);

      double hits = metric(gw, "gateway_delivery_tail_hits_total");
      client.ws.resume();
      int expected = large.size() + others.size();
      fx.until(
          "every event at the client once its socket drained",
          Duration.ofSeconds(120),
          () -> {
            assertThat(client.closed).as("the connection closed").isFalse();
            return client.total() == expected;
          },
          () -> client.total() + " of " + expected);
      for (String m : big) {
        assertThat(client.received().get(m)).as(m).containsExactlyElementsOf(StreamIT.oneTo(10));
      }
      for (String m : others) {
        assertThat(client.received().get(m)).as(m).containsExactly(1L);
      }
      assertThat(metric(gw, "gateway_delivery_tail_hits_total") - hits)
          .as("the queued channels served from the tail cache")
          .isGreaterThanOrEqualTo(others.size());
      client.close();
    }
  }

  /**
   * Bursts of one event for each of 2,000 merchants, to four connections spread over two event
   * loops: far below {@code stream.write-queue-bytes}, so no connection pauses. Vert.x reports a
   * socket written from another thread than its own "full" once 16 messages wait for its event
   * loop, whatever their size; the connections on the loop the engine does not run on were paused
   * by such bursts, and their channels waited for the drain and two thread hops.
   */
  @Test
  void shouldNotPauseConnectionsOnAnotherEventLoopForBurstsFarBelowTheirWriteQueue() {
    try (TestGateway gw =
            TestGateway.start(
                Map.of(
                    "GATEWAY_HTTP_EVENT_LOOPS",
                    "2",
                    "GATEWAY_STREAM_MAX_CLIENT_MESSAGES_PER_SECOND",
                    "1000000"));
        StreamFixture fx = new StreamFixture(gw)) {
      TestApp app = fx.app("websocket");
      String prefix = fx.merchants("burst", 1).get(0);
      int n = 2000;
      fx.grantRange(app, prefix, n);
      List<StreamClient> group = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        group.add(fx.connect(app));
      }
      group.forEach(c -> c.autoAck = true);
      fx.until(
          "2,000 channels shared by four connections",
          Duration.ofSeconds(120),
          () -> group.stream().mapToInt(c -> c.assigned().size()).sum() == n,
          () -> StreamIT.sizes(group));

      List<String> merchants = new ArrayList<>();
      for (int i = 1; i <= n; i++) {
        merchants.add(prefix + "-" + i);
      }
      double paused = metric(gw, "gateway_stream_paused_total");
      int rounds = 5;
      for (int round = 1; round <= rounds; round++) {
        ingestOneEach(gw, merchants);
        int expected = round * n;
        fx.until(
            "round " + round + " at the consumers",
            Duration.ofSeconds(60),
            () -> group.stream().mapToInt(StreamClient::total).sum() == expected);
      }
      assertThat(metric(gw, "gateway_stream_paused_total") - paused)
          .as("connections paused by bursts of about 250 kB each")
          .isZero();
      for (StreamClient c : group) {
        for (String m : c.assigned()) {
          assertThat(c.received().get(m)).as(m).containsExactlyElementsOf(StreamIT.oneTo(rounds));
        }
      }
      group.forEach(StreamClient::close);
    }
  }

  /** One event for each merchant, in requests of 1,000 (the most one takes). */
  private static void ingestOneEach(TestGateway gw, List<String> merchants) {
    for (int from = 0; from < merchants.size(); from += 1000) {
      List<io.vertx.core.json.JsonObject> events = new ArrayList<>();
      for (String m : merchants.subList(from, Math.min(merchants.size(), from + 1000))) {
        events.add(io.orderpush.gateway.Events.event(m, java.util.UUID.randomUUID().toString()));
      }
      var answer = gw.ingest(io.orderpush.gateway.Events.batch(events));
      assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    }
  }

  static double metric(TestGateway gw, String name) {
    return gw.send("GET", "/metrics", null, null)
        .body()
        .lines()
        .filter(l -> l.startsWith(name + " "))
        .mapToDouble(l -> Double.parseDouble(l.split(" ")[1]))
        .findFirst()
        .orElse(0);
  }
}
