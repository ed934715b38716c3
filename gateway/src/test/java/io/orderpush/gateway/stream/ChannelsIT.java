package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.delivery.cursor.CommitOutcome;
import io.orderpush.gateway.TestGateway;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Channel listing and cursor rewinds while a consumer is attached. */
class ChannelsIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;
  static StreamFixture fx;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_STREAM_WINDOW", "50",
                "GATEWAY_PG_QUERY_TIMEOUT_MS", "1000",
                "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS", "200"));
    fx = new StreamFixture(gw);
  }

  @AfterAll
  static void stop() {
    fx.close();
    gw.close();
  }

  @Test
  void shouldRestartDeliveryAfterTheRewoundCursorAndFenceTheOldPosition() {
    var app = fx.app("websocket");
    String m = fx.merchants("rewind", 1).get(0);
    fx.grant(app, m);
    var consumer = fx.connect(app);
    fx.until("assigned", WAIT, () -> consumer.assigned().contains(m));
    fx.ingest(List.of(m), 100, 100);
    fx.until("a window of 50", WAIT, () -> consumer.count(m) == 50);
    consumer.ack(m, 40);
    fx.until("cursor 40", WAIT, () -> fx.cursor(app, m) == 40);
    fx.until("the window refilled to 90", WAIT, () -> consumer.count(m) == 90);
    long epochBefore = fx.epoch(app, m);

    HttpResponse<String> r =
        gw.send("PUT", "/v1/channels/" + m + "/cursor", app.token(), "{\"seq\": 10}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(fx.cursor(app, m)).isEqualTo(10);

    // Delivery restarts from 11: the consumer hears assigned again, then 11, 12, ...
    fx.until(
        "events from 11 again",
        WAIT,
        () ->
            consumer.received().getOrDefault(m, List.of()).stream().filter(s -> s == 11).count()
                == 2);
    List<Long> seqs = consumer.received().get(m);
    assertThat(seqs.subList(90, seqs.size())).startsWith(11L, 12L, 13L);
    // A late ack of the old position (old epoch) can never move the cursor again.
    assertThat(fx.commit(app, m, epochBefore, 45)).isEqualTo(CommitOutcome.FENCED);
    assertThat(fx.cursor(app, m)).isEqualTo(10);
    // The same connection acking a position it saw only before the rewind (80: sent before, not
    // since) is ignored, not fatal; cursors only move forward, so reaching 12 proves 80 never
    // counted.
    consumer.ack(m, 80);
    consumer.ack(m, 12);
    fx.until("cursor 12", WAIT, () -> fx.cursor(app, m) == 12);
    assertThat(consumer.closed).isFalse();
    consumer.close();
  }

  @Test
  void shouldWriteARewindToPostgresOnceItCanWhenItsCheckpointFailedAfterRedisWasRewound()
      throws Exception {
    var app = fx.app("websocket");
    String m = fx.merchants("rewind-pg", 1).get(0);
    fx.grant(app, m);
    var consumer = fx.connect(app);
    fx.until("assigned", WAIT, () -> consumer.assigned().contains(m));
    fx.ingest(List.of(m), 40, 40);
    fx.until("40 events", WAIT, () -> consumer.count(m) == 40);
    consumer.ack(m, 40);
    fx.until("checkpoint 40 in PostgreSQL", WAIT, () -> fx.checkpoint(app, m) == 40);

    io.vertx.sqlclient.SqlConnection holder = StreamFixture.join(gw.gateway.pool().getConnection());
    try {
      // PostgreSQL cannot take the rewind's checkpoint (statement timeout): Redis already has it
      StreamFixture.join(holder.query("BEGIN").execute());
      StreamFixture.join(
          holder.query("LOCK TABLE cursor_checkpoints IN ACCESS EXCLUSIVE MODE").execute());
      HttpResponse<String> r =
          gw.send("PUT", "/v1/channels/" + m + "/cursor", app.token(), "{\"seq\": 10}");
      assertThat(r.statusCode()).as(r.body()).isGreaterThanOrEqualTo(500);
      assertThat(fx.cursor(app, m)).as("Redis").isEqualTo(10);
      // meanwhile another node sets the cursor to 5 (Redis and, there, PostgreSQL once it can)
      StreamFixture.join(
          fx.cursors.rewind(
              fx.vertx.getOrCreateContext(),
              app.id(),
              m,
              5,
              Long.parseLong(fx.field(app, m, "grant"))));
    } finally {
      StreamFixture.join(holder.query("ROLLBACK").execute());
      holder.close();
    }
    // Losing Redis now must not resume past what it holds: the checkpoint follows once it can be
    // written, with Redis's cursor, not the one this node was asked for.
    fx.until(
        "the rewind written",
        WAIT,
        () -> io.orderpush.gateway.Scrape.value(gw, "gateway_delivery_rewinds_pending") == 0);
    assertThat(fx.checkpoint(app, m)).isLessThanOrEqualTo(5);
    consumer.close();
  }

  @Test
  void shouldListChannelsWithHeadCursorLagAndState() {
    var app = fx.app("websocket");
    String a = fx.merchants("list", 1).get(0);
    String b = fx.merchants("list", 1).get(0);
    fx.grant(app, a);
    fx.grant(app, b);
    fx.ingest(List.of(a), 30, 30);
    HttpResponse<String> r = gw.send("GET", "/v1/channels?limit=1", app.token(), null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonObject page = new JsonObject(r.body());
    assertThat(page.getJsonArray("channels")).hasSize(1);
    String next = page.getString("next");
    JsonArray rest =
        new JsonObject(gw.send("GET", "/v1/channels?after=" + next, app.token(), null).body())
            .getJsonArray("channels");
    assertThat(rest).hasSize(1);
    JsonObject ca =
        a.compareTo(b) < 0 ? page.getJsonArray("channels").getJsonObject(0) : rest.getJsonObject(0);
    assertThat(ca.getString("merchantId")).isEqualTo(a);
    assertThat(ca.getLong("headSeq")).isEqualTo(30);
    assertThat(ca.getLong("cursor")).isZero();
    assertThat(ca.getLong("lag")).isEqualTo(30);
    assertThat(ca.getString("state")).isEqualTo("idle");

    assertThat(
            gw.send("PUT", "/v1/channels/" + a + "/cursor", app.token(), "{\"seq\": 31}")
                .statusCode())
        .isEqualTo(400);
    assertThat(
            gw.send("PUT", "/v1/channels/" + a + "/cursor", app.token(), "{\"seq\": -1}")
                .statusCode())
        .isEqualTo(400);
    assertThat(gw.send("PUT", "/v1/channels/" + a + "/cursor", app.token(), "nope").statusCode())
        .isEqualTo(400);
    assertThat(
            gw.send("PUT", "/v1/channels/not-granted-x/cursor", app.token(), "{\"seq\": 0}")
                .statusCode())
        .isEqualTo(403);
    assertThat(gw.send("GET", "/v1/channels", null, null).statusCode()).isEqualTo(401);
    assertThat(
            gw.send("PUT", "/v1/channels/" + a + "/cursor", app.token(), "{\"seq\": 30}")
                .statusCode())
        .isEqualTo(200);
    JsonObject skipped =
        new JsonObject(gw.send("GET", "/v1/channels", app.token(), null).body())
            .getJsonArray("channels").stream()
                .map(o -> (JsonObject) o)
                .filter(o -> o.getString("merchantId").equals(a))
                .findFirst()
                .orElseThrow();
    assertThat(skipped.getLong("lag")).isZero();
  }
}
