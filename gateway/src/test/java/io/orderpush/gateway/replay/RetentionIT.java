package io.orderpush.gateway.replay;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.events.PartitionMaintainer;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Retention drops whole old days: old events become 410, new ones stay, and ingest goes on while a
 * drop is under way.
 */
class RetentionIT {

  static <T> T join(io.vertx.core.Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }

  /** Sessions whose DETACH PARTITION waits for a lock. */
  static long detachesWaiting(Pool pool) {
    return join(pool.query(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                    + " AND wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE %DETACH PARTITION%'")
            .execute())
        .iterator()
        .next()
        .getLong(0);
  }

  @Test
  void shouldReportThePartitionsReadyAheadAndTellIngestWhichKeyWeeksAreWhole() {
    // a week partition of keys far ahead, made before the gateway starts (dropped at the end)
    LocalDate monday = LocalDate.of(2031, 3, 3);
    String week = PartitionMaintainer.partitionName("event_keys", monday, 7);
    var pg = TestServices.migratedPg();
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    Pool direct = io.orderpush.persistence.pg.PgPools.create(vertx, pg, "retention-it", 1, 10);
    try {
      join(
          direct
              .query(
                  "CREATE TABLE IF NOT EXISTS "
                      + week
                      + " PARTITION OF event_keys FOR VALUES FROM ('2031-03-03 00:00:00+00')"
                      + " TO ('2031-03-10 00:00:00+00')")
              .execute());
      join(
          direct
              .query(
                  "CREATE UNIQUE INDEX IF NOT EXISTS "
                      + week
                      + "_key ON "
                      + week
                      + " (merchant_id, event_id)")
              .execute());
      try (TestGateway gw = TestGateway.start(Map.of("GATEWAY_PG_PARTITIONS_AHEAD_DAYS", "3"))) {
        join(gw.gateway.firstMaintenance());
        String metrics = gw.send("GET", "/metrics", null, null).body();
        for (String table : List.of("event_chunks", "event_keys", "audit_batches")) {
          java.util.regex.Matcher m =
              java.util.regex.Pattern.compile(
                      "(?m)^gateway_partitions_days_ahead\\{table=\"" + table + "\",?} (\\S+)$")
                  .matcher(metrics);
          assertThat(m.find()).as("%s in%n%s", table, metrics).isTrue();
          assertThat(Double.parseDouble(m.group(1))).as(table).isGreaterThanOrEqualTo(3);
        }
        // ingest knows which weeks' keys are one partition, as the catalog has them
        assertThat(gw.gateway.eventLog().keyWeeks())
            .contains(monday)
            .isEqualTo(join(PartitionMaintainer.keyWeeks(gw.gateway.pool())));
      }
    } finally {
      try {
        join(direct.query("DROP TABLE IF EXISTS " + week).execute());
      } finally {
        join(direct.close());
        join(vertx.close());
      }
    }
  }

  /**
   * The hourly maintenance keeps autovacuum's insert-triggered vacuum off the partitions still
   * written, those made before the option too, and hands the ones whose day is over back to it.
   */
  @Test
  void shouldKeepInsertVacuumsOffThePartitionsStillWrittenOnly() {
    LocalDate ahead = LocalDate.of(2031, 3, 12);
    List<String> made =
        List.of(
            PartitionMaintainer.partitionName("event_chunks", ahead, 1),
            PartitionMaintainer.partitionName("audit_batches", ahead, 1));
    var pg = TestServices.migratedPg();
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    Pool direct = io.orderpush.persistence.pg.PgPools.create(vertx, pg, "retention-it", 1, 10);
    try {
      for (String table : List.of("event_chunks", "audit_batches")) {
        createDay(direct, table, ahead);
      }
      for (String partition : made) {
        assertThat(insertVacuumOff(direct, partition)).as(partition).isFalse();
      }
      // today's without the option (made before it), yesterday's still with it (its day just
      // ended): the round must set the one and reset the other
      LocalDate today = LocalDate.now(ZoneOffset.UTC);
      for (String table : List.of("event_chunks", "audit_batches")) {
        for (LocalDate day : List.of(today, today.minusDays(1))) {
          String partition = createDay(direct, table, day);
          join(
              direct
                  .query(
                      "ALTER TABLE "
                          + partition
                          + (day.equals(today)
                              ? " RESET (autovacuum_vacuum_insert_threshold)"
                              : " SET (autovacuum_vacuum_insert_threshold = -1)"))
                  .execute());
        }
      }
      try (TestGateway gw = TestGateway.start(Map.of())) {
        join(gw.gateway.firstMaintenance());
        org.junit.jupiter.api.Assumptions.assumeTrue(
            today.equals(LocalDate.now(ZoneOffset.UTC)), "midnight (UTC) passed meanwhile");
        for (String table : List.of("event_chunks", "audit_batches")) {
          assertThat(insertVacuumOff(direct, PartitionMaintainer.partitionName(table, today, 1)))
              .as("%s today", table)
              .isTrue();
          assertThat(
                  insertVacuumOff(
                      direct, PartitionMaintainer.partitionName(table, today.minusDays(1), 1)))
              .as("%s yesterday", table)
              .isFalse();
        }
        for (String partition : made) {
          assertThat(insertVacuumOff(direct, partition)).as(partition).isTrue();
        }
      }
    } finally {
      try {
        for (String partition : made) {
          join(direct.query("DROP TABLE IF EXISTS " + partition).execute());
        }
      } finally {
        join(direct.close());
        join(vertx.close());
      }
    }
  }

  /**
   * Creates {@code table}'s partition of {@code day} if missing, as a gateway before the vacuum
   * option made them (without it); returns its name.
   */
  static String createDay(Pool pool, String table, LocalDate day) {
    String partition = PartitionMaintainer.partitionName(table, day, 1);
    join(
        pool.query(
                "CREATE TABLE IF NOT EXISTS "
                    + partition
                    + " PARTITION OF "
                    + table
                    + " FOR VALUES FROM ('"
                    + day
                    + " 00:00:00+00') TO ('"
                    + day.plusDays(1)
                    + " 00:00:00+00')")
            .execute());
    return partition;
  }

  static boolean insertVacuumOff(Pool pool, String table) {
    return join(pool.preparedQuery(
                "SELECT coalesce('autovacuum_vacuum_insert_threshold=-1' = ANY(reloptions), false)"
                    + " FROM pg_class WHERE oid = $1::regclass")
            .execute(io.vertx.sqlclient.Tuple.of(table)))
        .iterator()
        .next()
        .getBoolean(0);
  }

  @Test
  void shouldDropDaysPastTheWindowWithoutTouchingNewEventsOrBlockingIngest() throws Exception {
    try (TestGateway gw = TestGateway.start(Map.of("GATEWAY_RETENTION_DAYS", "7"))) {
      var pool = gw.gateway.pool();
      // The gateway's own retention run at startup would drop the partition made below.
      join(gw.gateway.firstMaintenance());
      String m = TestServices.uniqueMerchant("ret");
      LocalDate old = LocalDate.now(ZoneOffset.UTC).minusDays(10);
      String suffix = old.format(DateTimeFormatter.BASIC_ISO_DATE);
      for (String table : List.of("event_chunks", "event_keys")) {
        join(
            pool.query(
                    "CREATE TABLE IF NOT EXISTS "
                        + table
                        + "_"
                        + suffix
                        + " PARTITION OF "
                        + table
                        + " FOR VALUES FROM ('"
                        + old
                        + " 00:00:00+00') TO ('"
                        + old.plusDays(1)
                        + " 00:00:00+00')")
                .execute());
      }
      // Ten days ago, seqs 1..5 were ingested (written here as ingest would have written them).
      String at = old + "T12:00:00.000Z";
      StringBuilder lines = new StringBuilder();
      for (int s = 1; s <= 5; s++) {
        lines
            .append(s > 1 ? "\n" : "")
            .append("{\"seq\":")
            .append(s)
            .append(",\"ingestedAt\":\"")
            .append(at)
            .append("\",\"eventId\":\"old-")
            .append(s)
            .append("\",\"orderId\":\"o\",\"type\":\"order.created\",")
            .append("\"occurredAt\":\"")
            .append(at)
            .append("\",\"data\":{}}");
      }
      join(
          pool.preparedQuery("INSERT INTO merchants (merchant_id, head_seq) VALUES ($1, 5)")
              .execute(Tuple.of(m)));
      join(
          pool.preparedQuery("INSERT INTO event_chunks VALUES ($1, 1, 5, $2, $3)")
              .execute(Tuple.of(m, java.time.OffsetDateTime.parse(at), lines.toString())));
      join(
          pool.preparedQuery(
                  "INSERT INTO event_keys SELECT $1, 'old-' || s, s, $2 FROM generate_series(1, 5) s")
              .execute(Tuple.of(m, java.time.OffsetDateTime.parse(at))));
      assertThat(
              gw.ingest(
                      Events.batch(
                          IntStream.rangeClosed(6, 10)
                              .mapToObj(i -> Events.event(m, "new-" + i))
                              .toList()))
                  .statusCode())
          .isEqualTo(200);
      JsonObject app =
          new JsonObject(
              gw.send(
                      "POST",
                      "/v1/apps",
                      TestGateway.ADMIN_TOKEN,
                      "{\"name\":\"ret\",\"delivery\":{\"mode\":\"websocket\"}}")
                  .body());
      gw.send(
          "PUT",
          "/v1/merchants/" + m + "/grants/" + app.getString("appId"),
          TestGateway.ADMIN_TOKEN,
          "{}");
      String token = app.getString("token");
      assertThat(
              gw.send("GET", "/v1/merchants/" + m + "/events?fromSeq=1", token, null)
                  .body()
                  .lines()
                  .count())
          .isEqualTo(10);

      // Ingest goes on while retention is under way. To show the two overlap, an open
      // transaction that read the parent table keeps the DETACH ... CONCURRENTLY waiting (it waits
      // for every transaction that may still see the partition) while events are ingested.
      String busy = TestServices.uniqueMerchant("ret-busy");
      SqlConnection reader = join(pool.getConnection());
      List<Integer> statuses = new ArrayList<>();
      List<String> dropped;
      try {
        join(reader.query("BEGIN").execute());
        join(reader.query("SELECT 1 FROM event_chunks LIMIT 1").execute());
        Future<List<String>> retention = gw.gateway.applyRetention();
        Await.until(
            "the detach to wait for the open transaction",
            Duration.ofSeconds(30),
            () -> detachesWaiting(pool) > 0 || retention.isComplete(),
            () -> "retention " + (retention.isComplete() ? "finished: " + retention : "running"));
        assertThat(retention.isComplete())
            .as("retention finished while a transaction could still see the partition")
            .isFalse();
        for (int i = 0; i < 20; i++) {
          statuses.add(gw.ingest(Events.batch(List.of(Events.event(busy, "b-" + i)))).statusCode());
        }
        assertThat(retention.isComplete())
            .as("retention was still under way while those events were ingested")
            .isFalse();
        assertThat(detachesWaiting(pool)).isPositive();
        join(reader.query("COMMIT").execute());
        dropped = join(retention);
      } finally {
        reader.close();
      }
      assertThat(statuses).containsOnly(200);
      assertThat(join(gw.gateway.eventLog().head(pool, busy))).isEqualTo(20);

      assertThat(dropped).contains("event_chunks_" + suffix, "event_keys_" + suffix);
      HttpResponse<String> gone =
          gw.send("GET", "/v1/merchants/" + m + "/events?fromSeq=1", token, null);
      assertThat(gone.statusCode()).isEqualTo(410);
      assertThat(
              new JsonObject(gone.body())
                  .getJsonArray("details")
                  .getJsonObject(0)
                  .getLong("oldestSeq"))
          .isEqualTo(6);
      assertThat(
              gw.send("GET", "/v1/merchants/" + m + "/events?fromSeq=6", token, null)
                  .body()
                  .lines()
                  .map(l -> new JsonObject(l).getLong("seq")))
          .containsExactly(6L, 7L, 8L, 9L, 10L);
      // Within the window, idempotency holds; the sequence goes on densely.
      JsonArray again =
          new JsonArray(
              gw.ingest(Events.batch(List.of(Events.event(m, "new-7"), Events.event(m, "new-11"))))
                  .body());
      assertThat(again.getJsonObject(0).getLong("seq")).isEqualTo(7);
      assertThat(again.getJsonObject(0).getBoolean("duplicate")).isTrue();
      assertThat(again.getJsonObject(1).getLong("seq")).isEqualTo(11);
      assertThat(
              gw.send("PUT", "/v1/channels/" + m + "/cursor", token, "{\"seq\": 2}").statusCode())
          .isEqualTo(410);
      assertThat(
              gw.send("PUT", "/v1/channels/" + m + "/cursor", token, "{\"seq\": 5}").statusCode())
          .isEqualTo(200);
      join(
          pool.preparedQuery("DELETE FROM apps WHERE app_id = $1::uuid")
              .execute(Tuple.of(app.getString("appId"))));
    }
  }
}
