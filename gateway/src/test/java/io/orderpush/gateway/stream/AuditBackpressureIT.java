package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * PRODUCT.md: the audit trail has "one item per batch that left the gateway". While PostgreSQL
 * cannot take the trail's rows, delivery and replay wait once the trail's buffer reaches its mark,
 * instead of sending batches whose records would be dropped; once it can, they go on, and every
 * batch that left is in the trail.
 */
class AuditBackpressureIT {

  static final Duration WAIT = Duration.ofSeconds(60);
  static final int EVENTS = 300;
  static TestGateway gw;
  static StreamFixture fx;
  final HttpClient http = HttpClient.newHttpClient();

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                // the smallest buffer: its mark (90) is reached within a few hundred batches
                "GATEWAY_AUDIT_BUFFER_ROWS", "100",
                "GATEWAY_AUDIT_FLUSH_INTERVAL_MS", "50",
                // one event per batch, and no ack needed for the 300
                "GATEWAY_STREAM_MAX_BATCH_EVENTS", "1",
                "GATEWAY_STREAM_WINDOW", "1000"));
    fx = new StreamFixture(gw);
  }

  @AfterAll
  static void stop() {
    fx.close();
    gw.close();
  }

  @Test
  void shouldHoldDeliveryAndReplayWhileTheAuditTrailCannotKeepTheirRecordsAndDropNone()
      throws Exception {
    var app = fx.app("websocket");
    String m = fx.merchants("audit-held", 1).get(0);
    fx.grant(app, m);
    StreamClient consumer = fx.connect(app);
    fx.until("assigned", WAIT, () -> consumer.assigned().contains(m));
    double droppedBefore = dropped();
    CompletableFuture<HttpResponse<String>> replay;
    try (java.sql.Connection holder = OwnershipMoveDuringReadIT.jdbc()) {
      holder.setAutoCommit(false);
      try (java.sql.Statement st = holder.createStatement()) {
        st.execute("LOCK TABLE audit_batches IN ACCESS EXCLUSIVE MODE");
      }
      fx.ingest(List.of(m), EVENTS, 100);
      fx.until(
          "delivery waiting for the audit trail, or everything sent",
          WAIT,
          () ->
              Scrape.value(gw, "gateway_delivery_audit_waits_total") > 0
                  || consumer.count(m) == EVENTS);
      replay =
          http.sendAsync(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + gw.port + "/v1/merchants/" + m + "/events"))
                  .header("Authorization", "Bearer " + app.token())
                  .timeout(WAIT)
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      int held = consumer.count(m);
      // a few rounds of the writer's flush (50 ms) and the engine's look (100 ms)
      Thread.sleep(1_500);
      assertThat(consumer.count(m)).as("events sent while the trail was full").isEqualTo(held);
      assertThat(held).as("events sent before delivery waited").isLessThan(EVENTS);
      assertThat(replay).as("a replay waits too").isNotDone();
      assertThat(Scrape.value(gw, "gateway_replay_audit_waits_total")).isPositive();
      assertThat(dropped()).as("records dropped").isEqualTo(droppedBefore);
      holder.rollback();
    }
    fx.until("all delivered once the trail takes rows", WAIT, () -> consumer.count(m) == EVENTS);
    HttpResponse<String> r = replay.get();
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body().lines().count()).isEqualTo(EVENTS);
    fx.until(
        "every batch that left in the trail",
        WAIT,
        () -> covered(app.id(), "websocket") == EVENTS && covered(app.id(), "replay") == EVENTS);
    assertThat(dropped()).as("records dropped").isEqualTo(droppedBefore);
    consumer.close();
  }

  /** Audit records dropped for a full buffer (0 before the first). */
  static double dropped() {
    return gw.send("GET", "/metrics", null, null)
        .body()
        .lines()
        .filter(l -> l.startsWith("gateway_audit_rows_dropped_total{"))
        .filter(l -> l.contains("reason=\"buffer_full\""))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }

  /** Distinct seqs the app's audit records of {@code transport} cover. */
  static long covered(java.util.UUID app, String transport) {
    HttpResponse<String> r =
        gw.send(
            "GET",
            "/v1/audit/deliveries?appId=" + app + "&limit=1000",
            TestGateway.ADMIN_TOKEN,
            null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonObject page = new JsonObject(r.body());
    assertThat(page.getString("next")).isNull();
    JsonArray items = page.getJsonArray("items");
    return items.stream()
        .map(JsonObject.class::cast)
        .filter(it -> transport.equals(it.getString("transport")))
        .flatMapToLong(it -> LongStream.rangeClosed(it.getLong("fromSeq"), it.getLong("toSeq")))
        .distinct()
        .count();
  }
}
