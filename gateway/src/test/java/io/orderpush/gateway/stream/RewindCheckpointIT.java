package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A rewind holds against acks from before it. Its checkpoint in PostgreSQL is not written over by
 * cursor moves acked before it: not by the channel's present connection, nor by the one it had
 * before the app reconnected, whose acks may still wait for the next checkpoint round when the
 * rewind comes. And an ack the client sent before it read the rewind's {@code assigned}, naming the
 * assignment before, does not move the cursor, even once the events re-sent have passed its seq.
 */
class RewindCheckpointIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final Duration INTERVAL = Duration.ofSeconds(2);
  static TestGateway gw;
  static StreamFixture fx;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS",
                Long.toString(INTERVAL.toMillis()),
                "GATEWAY_STREAM_WINDOW",
                "100"));
    fx = new StreamFixture(gw);
  }

  @AfterAll
  static void stop() {
    fx.close();
    gw.close();
  }

  @Test
  void shouldKeepARewindsCheckpointOverAcksOfTheConnectionTheAppHadBeforeItReconnected()
      throws Exception {
    // The scenario needs the rewind to come before the checkpoint round that would write the
    // earlier connection's ack: tried again, on another merchant, if that round came first.
    for (int attempt = 0; attempt < 5; attempt++) {
      var app = fx.app("websocket");
      String m = fx.merchants("rewind-ckpt", 1).get(0);
      fx.grant(app, m);
      StreamClient first = fx.connect(app);
      fx.until("assigned", WAIT, () -> first.assigned().contains(m));
      fx.ingest(List.of(m), 50, 50);
      fx.until("50 events", WAIT, () -> first.count(m) == 50);
      long before = fx.checkpoint(app, m);
      first.ack(m, 50);
      fx.until("cursor 50", WAIT, () -> fx.cursor(app, m) == 50);
      first.close();
      StreamClient second = fx.connect(app);
      fx.until("assigned again", WAIT, () -> second.assigned().contains(m));
      HttpResponse<String> r =
          gw.send("PUT", "/v1/channels/" + m + "/cursor", app.token(), "{\"seq\": 10}");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      if (fx.checkpoint(app, m) != 10 || before == 50) {
        second.close();
        continue; // a checkpoint round came between the ack and the rewind: not this scenario
      }
      // two checkpoint rounds
      Thread.sleep(2 * INTERVAL.toMillis() + 500);
      assertThat(fx.checkpoint(app, m))
          .as("PostgreSQL's checkpoint after the rewind to 10 and two rounds")
          .isLessThanOrEqualTo(10);
      assertThat(fx.cursor(app, m)).isEqualTo(10);
      second.close();
      return;
    }
    throw new AssertionError("a checkpoint round came before the rewind in every attempt");
  }

  @Test
  void shouldKeepARewindsCheckpointWhenTheRoundCarryingAnOlderAckFailsAfterTheRewindCame()
      throws Exception {
    var app = fx.app("websocket");
    String m = fx.merchants("rewind-failed-round", 1).get(0);
    fx.grant(app, m);
    StreamClient first = fx.connect(app);
    fx.until("assigned", WAIT, () -> first.assigned().contains(m));
    fx.ingest(List.of(m), 50, 50);
    fx.until("50 events", WAIT, () -> first.count(m) == 50);
    first.ack(m, 5);
    fx.until("checkpoint 5", WAIT, () -> fx.checkpoint(app, m) == 5);
    // Every round that carries the ack of 50 holds the checkpoint's row for 2 s, then fails, until
    // the rewind came.
    String name =
        "rewind_round_"
            + Long.toUnsignedString(
                java.util.concurrent.ThreadLocalRandom.current().nextLong(), 36);
    try {
      sql("CREATE TABLE " + name + " (on_ boolean)");
      sql("INSERT INTO " + name + " VALUES (true)");
      sql(
          "CREATE FUNCTION "
              + name
              + "() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
              + " IF NEW.merchant_id = '"
              + m
              + "' AND NEW.cursor = 50 AND EXISTS (SELECT 1 FROM "
              + name
              + ") THEN PERFORM pg_sleep(2); RAISE EXCEPTION 'the round fails'; END IF;"
              + " RETURN NEW; END $$");
      sql(
          "CREATE TRIGGER "
              + name
              + " BEFORE UPDATE ON cursor_checkpoints FOR EACH ROW EXECUTE FUNCTION "
              + name
              + "()");
      first.ack(m, 50);
      fx.until("cursor 50", WAIT, () -> fx.cursor(app, m) == 50);
      // the app reconnects: the channel object that holds the ack of 50 is no longer served
      first.close();
      StreamClient second = fx.connect(app);
      fx.until("assigned again", WAIT, () -> second.assigned().contains(m));
      fx.until(
          "the round holding the row",
          WAIT,
          () ->
              sql(
                      "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
                          + " AND datname = current_database()"
                          + " AND query LIKE '%cursor_checkpoints%'")
                  > 0);
      // the rewind's own write waits for the row, then lands once the round failed
      HttpResponse<String> r =
          gw.send("PUT", "/v1/channels/" + m + "/cursor", app.token(), "{\"seq\": 10}");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(fx.checkpoint(app, m)).isEqualTo(10);
      sql("DELETE FROM " + name); // later rounds would write 50 now
      // the failed round's moves go to the next rounds, less the one the rewind undid
      Thread.sleep(2 * INTERVAL.toMillis() + 500);
      assertThat(fx.checkpoint(app, m))
          .as("PostgreSQL's checkpoint after the rewind to 10, the failed round and two more")
          .isLessThanOrEqualTo(10);
      assertThat(fx.cursor(app, m)).isEqualTo(10);
      second.close();
    } finally {
      sql("DROP TRIGGER IF EXISTS " + name + " ON cursor_checkpoints");
      sql("DROP FUNCTION IF EXISTS " + name + "()");
      sql("DROP TABLE IF EXISTS " + name);
    }
  }

  /** Runs a statement on this class's gateway's database (as {@link #sql(TestGateway, String)}). */
  static long sql(String statement) {
    return gw.sql(statement);
  }

  @Test
  void shouldIgnoreAnAckNamingTheAssignmentBeforeARewindOnceTheResentEventsPassedItsSeq()
      throws Exception {
    var app = fx.app("websocket");
    String m = fx.merchants("rewind-stale-ack", 1).get(0);
    fx.grant(app, m);
    StreamClient c = fx.connect(app);
    fx.until("assigned", WAIT, () -> c.assigned().contains(m));
    long before = c.assignment(m);
    assertThat(before).isPositive();
    fx.ingest(List.of(m), 60, 60);
    fx.until("60 events", WAIT, () -> c.count(m) == 60);
    double stale = Scrape.value(gw, "gateway_stream_acks_stale_total");
    HttpResponse<String> r =
        gw.send("PUT", "/v1/channels/" + m + "/cursor", app.token(), "{\"seq\": 10}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    // The rewind's assigned, then 11..60 again: the channel has now sent past 50 under the new
    // assignment, so an ack of 50 would be in range.
    fx.until("events 11..60 again", WAIT, () -> c.count(m) == 110);
    long after = c.assignment(m);
    assertThat(after).isGreaterThan(before);
    // As if the client had acked 50 before it read the new assigned: the two crossed on the wire.
    c.ack(m, 50, before);
    c.ack(m, 20, after);
    fx.until("the ack of 20 stored", WAIT, () -> fx.cursor(app, m) >= 20);
    assertThat(fx.cursor(app, m))
        .as("the cursor after an ack of 50 naming the assignment before the rewind, then of 20")
        .isEqualTo(20);
    assertThat(Scrape.value(gw, "gateway_stream_acks_stale_total")).isEqualTo(stale + 1);
    assertThat(c.faults()).isEmpty();
    c.close();
  }

  @Test
  void shouldCloseAConnectionWhoseAckNamesAnAssignmentItWasNeverSent() throws Exception {
    var app = fx.app("websocket");
    String m = fx.merchants("rewind-bad-assignment", 1).get(0);
    fx.grant(app, m);
    StreamClient c = fx.connect(app);
    fx.until("assigned", WAIT, () -> c.assigned().contains(m));
    fx.ingest(List.of(m), 5, 5);
    fx.until("5 events", WAIT, () -> c.count(m) == 5);
    c.ack(m, 5, c.assignment(m) + 1);
    fx.until("closed", WAIT, () -> c.closed);
    assertThat(c.errors).anySatisfy(e -> assertThat(e.getString("code")).isEqualTo("bad_message"));
    assertThat(fx.cursor(app, m)).isZero();
  }
}
