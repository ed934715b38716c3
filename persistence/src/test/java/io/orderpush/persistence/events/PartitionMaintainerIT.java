package io.orderpush.persistence.events;

import static io.orderpush.persistence.events.EventLogIT.await;
import static io.orderpush.persistence.events.EventLogIT.event;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.persistence.masking.MaskRules;
import io.orderpush.persistence.masking.Masker;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.testing.ScratchDatabases;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The partitions of the event tables, each test in a database of its own: event_keys by week (one
 * or two partitions to look a key up in, not one per retained day), event_chunks by day, the days
 * of a week that has some kept as days, and retention by whole partitions.
 */
class PartitionMaintainerIT {

  // A Wednesday, far from the real clock: these tests pass their own "now".
  static final LocalDate WEDNESDAY = LocalDate.of(2031, 3, 5);

  Vertx vertx;
  PgSettings test;
  String db;
  Pool pool;

  @BeforeEach
  void start() throws Exception {
    test = TestServices.migratedPg();
    db = ScratchDatabases.create(test, "gateway_parts_");
    PgSettings pg = ScratchDatabases.settings(test, db);
    ScratchDatabases.migrate(pg, "latest");
    vertx = Vertx.vertx();
    pool = PgPools.create(vertx, pg, "parts", 2, 100);
  }

  @AfterEach
  void stop() throws Exception {
    await(pool.close());
    await(vertx.close());
    ScratchDatabases.drop(test, db);
  }

  @Test
  void shouldPartitionKeysByWeekAndChunksByDay() {
    await(
        new PartitionMaintainer(pool, 1)
            .ensurePartitions(pool, WEDNESDAY.minusDays(14), WEDNESDAY.plusDays(5)));

    assertThat(partitions("event_keys"))
        .containsExactly(
            "event_keys_w20310217",
            "event_keys_w20310224",
            "event_keys_w20310303",
            "event_keys_w20310310");
    assertThat(partitions("event_chunks")).hasSize(20).startsWith("event_chunks_20310219");
    for (String keys : partitions("event_keys")) {
      assertThat(uniqueIndexes(keys)).as(keys).containsExactly(keys + "_key");
    }
  }

  @Test
  void shouldKeepTheDaysOfAWeekThatAlreadyHasDayPartitions() {
    // made before partitions by week (or by an older node): Tuesday of this week, with its index
    await(
        pool.query(PartitionMaintainer.createPartition("event_keys", WEDNESDAY.minusDays(1)))
            .execute());
    await(pool.query(PartitionMaintainer.createKeysIndex("event_keys_20310304")).execute());
    PartitionMaintainer maintainer = new PartitionMaintainer(pool, 1);

    await(maintainer.ensurePartitions(pool, WEDNESDAY.minusDays(3), WEDNESDAY.plusDays(5)));

    assertThat(partitions("event_keys"))
        .containsExactly(
            "event_keys_20310303",
            "event_keys_20310304",
            "event_keys_20310305",
            "event_keys_20310306",
            "event_keys_20310307",
            "event_keys_20310308",
            "event_keys_20310309",
            "event_keys_w20310224",
            "event_keys_w20310310");
    assertThat(uniqueIndexes("event_keys_20310306")).containsExactly("event_keys_20310306_key");
    // only the week made whole counts as one for the lookup
    assertThat(await(PartitionMaintainer.keyWeeks(pool)))
        .containsExactlyInAnyOrder(LocalDate.of(2031, 2, 24), LocalDate.of(2031, 3, 10));
    // nor a week whose unique index is not there (yet): nothing would refuse its repeats
    LocalDate later = LocalDate.of(2031, 3, 17);
    await(pool.query(PartitionMaintainer.createPartition("event_keys", later, 7)).execute());
    assertThat(await(PartitionMaintainer.keyWeeks(pool))).doesNotContain(later);
    await(pool.query(PartitionMaintainer.createKeysIndex("event_keys_w20310317")).execute());
    assertThat(await(PartitionMaintainer.keyWeeks(pool))).contains(later);

    // The next round, while ingest holds its lock on event_keys: it must not try the week again
    // (that takes the parent's exclusive lock, and would wait for this transaction to end).
    SqlConnection ingest = await(pool.getConnection());
    try {
      await(ingest.query("BEGIN").execute());
      await(
          ingest
              .preparedQuery(
                  "INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at) VALUES ('m', 'e', 1, $1)")
              .execute(Tuple.of(WEDNESDAY.atTime(12, 0).atOffset(ZoneOffset.UTC))));
      var round = maintainer.ensurePartitions(pool, WEDNESDAY.minusDays(3), WEDNESDAY.plusDays(5));
      GroupCommitPipelineIT.awaitCondition(
          round::isComplete, "the round to finish while ingest's transaction is open");
      assertThat(round.succeeded()).as("%s", round.cause()).isTrue();
    } finally {
      ingest.close();
    }
  }

  @Test
  void shouldFindAnEventIdStoredOnAnyRetainedDayOfTheWeeksAround() {
    await(
        new PartitionMaintainer(pool, 1)
            .ensurePartitions(pool, WEDNESDAY.minusDays(20), WEDNESDAY.plusDays(1)));
    String m = "m-weeks";
    // One event a day for the past 20 days (stored as ingest would), and today's in the morning.
    List<NewEvent> again = new ArrayList<>();
    for (int d = 20; d >= 0; d--) {
      Instant at = WEDNESDAY.minusDays(d).atTime(d == 0 ? 6 : 12, 0).toInstant(ZoneOffset.UTC);
      await(
          pool.preparedQuery(
                  "INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at) VALUES ($1, $2, $3, $4)")
              .execute(Tuple.of(m, "day-" + d, 21L - d, at.atOffset(ZoneOffset.UTC))));
      again.add(event(m, "day-" + d));
    }
    await(
        pool.preparedQuery("INSERT INTO merchants (merchant_id, head_seq) VALUES ($1, 21)")
            .execute(Tuple.of(m)));
    again.add(event(m, "new"));
    // Retention of 14 days: the keys of the weeks holding those days are kept, from Monday 16 days
    // ago; those of 17 days ago and before are past it.
    EventLog log = new EventLog(new Masker(MaskRules.defaults()), 14);
    Instant noon = WEDNESDAY.atTime(12, 0).toInstant(ZoneOffset.UTC);

    List<AppendResult> results = await(pool.withTransaction(tx -> log.append(tx, again, noon)));

    for (int d = 20; d >= 0; d--) {
      AppendResult r = results.get(20 - d);
      if (d > 16) {
        assertThat(r.duplicate()).as("day-%d is past retention", d).isFalse();
      } else {
        assertThat(r.duplicate()).as("day-%d", d).isTrue();
        assertThat(r.seq()).as("day-%d", d).isEqualTo(21L - d);
      }
    }
    assertThat(results.get(21).duplicate()).isFalse();
    assertThat(results.get(21).seq()).isEqualTo(26);

    // The one-round-trip commit refuses each retained repeat: the ones of earlier weeks and of
    // this week's earlier days by looking them up, today's by the week's unique index.
    for (int d : new int[] {14, 9, 3, 1, 0}) {
      assertRefused(log, m, d, noon, d == 0 ? "23505" : EventLog.EXPECTATION_FAILED);
    }
    assertThat(head(m)).isEqualTo(26);

    // Once the catalog shows this week is one partition, the lookup skips all of it: this week's
    // earlier days are refused by the week's unique index too, earlier weeks by the lookup.
    assertThat(await(PartitionMaintainer.keyWeeks(pool)))
        .contains(PartitionMaintainer.weekOf(WEDNESDAY));
    log.keyWeeks(await(PartitionMaintainer.keyWeeks(pool)));
    for (int d : new int[] {14, 9, 3, 2, 1, 0}) {
      assertRefused(log, m, d, noon, d <= 2 ? "23505" : EventLog.EXPECTATION_FAILED);
    }
    assertThat(head(m)).isEqualTo(26);
  }

  /**
   * The one-round-trip commit of event "day-{d}" again (head 26 expected) fails with {@code
   * sqlState}: the lookup's ({@link EventLog#EXPECTATION_FAILED}) or the unique index's (23505).
   */
  void assertRefused(EventLog log, String m, int d, Instant now, String sqlState) {
    EventLog.Plan plan = log.plan(List.of(event(m, "day-" + d)), Map.of(m, 26L), now, false);
    var conn = await(pool.getConnection());
    try {
      assertThatThrownBy(() -> await(log.appendExpecting(conn, plan, Promise.promise())))
          .as("day-%d", d)
          .isInstanceOf(CompletionException.class)
          .cause()
          .isInstanceOf(PgException.class)
          .satisfies(e -> assertThat(((PgException) e).getSqlState()).isEqualTo(sqlState));
    } finally {
      await(conn.close());
    }
  }

  @Test
  void shouldAnswerARepeatOfAKeyItsWeekStillHoldsPastAShortRetention() {
    await(new PartitionMaintainer(pool, 1).ensurePartitions(pool, WEDNESDAY, WEDNESDAY));
    String m = "m-short";
    Instant monday = WEDNESDAY.minusDays(2).atTime(9, 0).toInstant(ZoneOffset.UTC);
    await(
        pool.preparedQuery(
                "INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at) VALUES ($1, 'mon', 1, $2)")
            .execute(Tuple.of(m, monday.atOffset(ZoneOffset.UTC))));
    await(
        pool.preparedQuery("INSERT INTO merchants (merchant_id, head_seq) VALUES ($1, 1)")
            .execute(Tuple.of(m)));
    // Retention of one day ends on Tuesday, but Monday's key is in the week partition written on
    // Wednesday, whose unique index refuses it again: the repeat must be found and answered, or
    // no attempt to ingest it could ever succeed.
    EventLog log = new EventLog(new Masker(MaskRules.defaults()), 1);
    Instant noon = WEDNESDAY.atTime(12, 0).toInstant(ZoneOffset.UTC);

    List<AppendResult> results =
        await(pool.withTransaction(tx -> log.append(tx, List.of(event(m, "mon")), noon)));

    assertThat(results).extracting(AppendResult::duplicate).containsExactly(true);
    assertThat(results).extracting(AppendResult::seq).containsExactly(1L);
    assertThat(head(m)).isEqualTo(1);
  }

  @Test
  void shouldDropAWeekOnlyOnceAllOfItIsPastRetention() {
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    LocalDate older = PartitionMaintainer.weekOf(today.minusDays(30));
    LocalDate old = PartitionMaintainer.weekOf(today.minusDays(14));
    PartitionMaintainer maintainer = new PartitionMaintainer(pool, 1);
    await(maintainer.ensurePartitions(pool, older, older));
    await(maintainer.ensurePartitions(pool, old, old));
    String olderName = PartitionMaintainer.partitionName("event_keys", older, 7);
    String oldName = PartitionMaintainer.partitionName("event_keys", old, 7);
    assertThat(partitions("event_keys")).contains(olderName, oldName);

    // Retention keeps from old's Thursday on: most of old's week is past it, not all.
    int keepsThursday = (int) (today.toEpochDay() - old.plusDays(3).toEpochDay());
    List<String> dropped = await(maintainer.dropExpired(pool, keepsThursday));
    assertThat(dropped).contains(olderName).doesNotContain(oldName);
    assertThat(partitions("event_keys")).contains(oldName).doesNotContain(olderName);

    // Retention keeps from the Monday after old's week: all of it is past.
    int keepsNextMonday = (int) (today.toEpochDay() - old.plusDays(7).toEpochDay());
    assertThat(await(maintainer.dropExpired(pool, keepsNextMonday))).contains(oldName);
    assertThat(partitions("event_keys")).doesNotContain(oldName);
  }

  /**
   * A day detached by an earlier round whose DROP never ran (its node stopped between the two) is
   * no partition any more, and was never looked at again: it is dropped once past retention, and a
   * table that only looks alike is left alone.
   */
  @Test
  void shouldDropADayLeftDetachedByAnEarlierRound() {
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    LocalDate old = today.minusDays(40);
    PartitionMaintainer maintainer = new PartitionMaintainer(pool, 1);
    await(maintainer.ensurePartitions(pool, old, old));
    String oldName = PartitionMaintainer.partitionName("event_chunks", old, 1);
    await(pool.query("ALTER TABLE event_chunks DETACH PARTITION " + oldName).execute()); // no DROP
    // named like a day within retention (far ahead, where no partition is made), but no partition
    String ahead = PartitionMaintainer.partitionName("event_chunks", today.plusDays(3000), 1);
    await(pool.query("CREATE TABLE IF NOT EXISTS " + ahead + " (id int)").execute());
    // named like the old day, in another schema
    await(pool.query("CREATE SCHEMA IF NOT EXISTS archive").execute());
    await(pool.query("CREATE TABLE IF NOT EXISTS archive." + oldName + " (id int)").execute());
    assertThat(partitions("event_chunks")).doesNotContain(oldName);

    List<String> dropped = await(maintainer.dropExpired(pool, 7));

    assertThat(dropped).contains(oldName).doesNotContain(ahead);
    assertThat(tableExists(oldName)).as("the detached day").isFalse();
    assertThat(tableExists(ahead)).as("a table named like a day within retention").isTrue();
    assertThat(tableExists("archive." + oldName)).as("the same name in another schema").isTrue();
    await(pool.query("DROP TABLE " + ahead).execute());
    await(pool.query("DROP SCHEMA archive CASCADE").execute());
  }

  boolean tableExists(String name) {
    return await(pool.preparedQuery("SELECT to_regclass($1) IS NOT NULL").execute(Tuple.of(name)))
        .iterator()
        .next()
        .getBoolean(0);
  }

  @Test
  void shouldCountTheDaysAheadThePartitionsInTheCatalogCover() {
    PartitionMaintainer maintainer = new PartitionMaintainer(pool, 2);
    assertThat(await(maintainer.daysAhead(pool)))
        .containsExactly(Map.entry("event_chunks", -1), Map.entry("event_keys", -1));

    await(maintainer.ensurePartitions(pool));

    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    long keysAhead =
        PartitionMaintainer.weekOf(today.plusDays(2)).plusDays(7).toEpochDay()
            - today.toEpochDay()
            - 1;
    assertThat(await(maintainer.daysAhead(pool)))
        .containsExactly(Map.entry("event_chunks", 2), Map.entry("event_keys", (int) keysAhead));

    // tomorrow's chunks gone: today's alone counts
    await(
        pool.query(
                "DROP TABLE "
                    + PartitionMaintainer.partitionName("event_chunks", today.plusDays(1), 1))
            .execute());
    assertThat(await(maintainer.daysAhead(pool))).containsEntry("event_chunks", 0);
  }

  @Test
  void shouldKeepInsertVacuumsAndAnalyzeOffThePartitionsStillWrittenAndHandTheRestToAutovacuum() {
    // Tuesday's and today's made before the option existed (by an older node)
    for (LocalDate day : List.of(WEDNESDAY.minusDays(1), WEDNESDAY)) {
      await(
          pool.query(
                  "CREATE TABLE "
                      + PartitionMaintainer.partitionName("event_chunks", day, 1)
                      + " PARTITION OF event_chunks FOR VALUES FROM ('"
                      + day
                      + " 00:00:00+00') TO ('"
                      + day.plusDays(1)
                      + " 00:00:00+00')")
              .execute());
    }
    PartitionMaintainer maintainer = new PartitionMaintainer(pool, 1);
    await(maintainer.ensurePartitions(pool, WEDNESDAY.minusDays(2), WEDNESDAY.plusDays(1)));
    assertThat(insertVacuumOff("event_chunks_20310303")).as("made by the maintainer").isTrue();
    assertThat(insertVacuumOff("event_chunks_20310304")).isFalse();
    assertThat(insertVacuumOff("event_chunks_20310305")).isFalse();
    assertThat(insertVacuumOff("event_chunks_20310306")).isTrue();
    assertThat(insertVacuumOff("event_keys_w20310303")).isTrue();

    assertThat(await(maintainer.settleVacuum(pool, WEDNESDAY)))
        .as("Monday's is over, today's is written")
        .containsExactlyInAnyOrder("event_chunks_20310303", "event_chunks_20310305");
    assertThat(insertVacuumOff("event_chunks_20310303")).as("Monday, over").isFalse();
    assertThat(insertVacuumOff("event_chunks_20310304")).as("Tuesday, over").isFalse();
    assertThat(insertVacuumOff("event_chunks_20310305")).as("today").isTrue();
    assertThat(insertVacuumOff("event_chunks_20310306")).as("tomorrow").isTrue();
    assertThat(insertVacuumOff("event_keys_w20310303")).as("this week").isTrue();
    assertThat(analyzeOff("event_chunks_20310303")).as("Monday, over: analyzed again").isFalse();
    assertThat(analyzeOff("event_chunks_20310305")).as("today: not analyzed").isTrue();
    assertThat(analyzeOff("event_keys_w20310303")).as("this week: not analyzed").isTrue();
    assertThat(await(maintainer.settleVacuum(pool, WEDNESDAY))).as("the next round").isEmpty();

    // the next Monday: the week is over too
    assertThat(await(maintainer.settleVacuum(pool, LocalDate.of(2031, 3, 10))))
        .containsExactlyInAnyOrder(
            "event_chunks_20310305", "event_chunks_20310306", "event_keys_w20310303");
    assertThat(insertVacuumOff("event_keys_w20310303")).isFalse();
    assertThat(insertVacuumOff("event_chunks_20310306")).isFalse();
  }

  @Test
  void shouldCompleteOrClearTheOptionsOfPartitionsAnOlderNodeLeftHalfSet() {
    // An older node set only the insert vacuum's option on the day it made (today, written), and
    // reset only that one on yesterday's once it was over, leaving the analyze option there.
    await(
        pool.query(
                "CREATE TABLE event_chunks_20310305 PARTITION OF event_chunks FOR VALUES"
                    + " FROM ('2031-03-05 00:00:00+00') TO ('2031-03-06 00:00:00+00')"
                    + " WITH (autovacuum_vacuum_insert_threshold=-1)")
            .execute());
    await(
        pool.query(
                "CREATE TABLE event_chunks_20310304 PARTITION OF event_chunks FOR VALUES"
                    + " FROM ('2031-03-04 00:00:00+00') TO ('2031-03-05 00:00:00+00')"
                    + " WITH (autovacuum_analyze_threshold=2147483647)")
            .execute());

    assertThat(await(new PartitionMaintainer(pool, 1).settleVacuum(pool, WEDNESDAY)))
        .containsExactlyInAnyOrder("event_chunks_20310304", "event_chunks_20310305");
    assertThat(insertVacuumOff("event_chunks_20310305")).as("today").isTrue();
    assertThat(analyzeOff("event_chunks_20310305")).as("today").isTrue();
    assertThat(insertVacuumOff("event_chunks_20310304")).as("yesterday").isFalse();
    assertThat(analyzeOff("event_chunks_20310304")).as("yesterday").isFalse();
  }

  @Test
  void shouldSettleTheOtherPartitionsWhenOneCannotBeChangedAndThatOneTheNextRound() {
    PartitionMaintainer maintainer = new PartitionMaintainer(pool, 1);
    // Monday's made with the option (over by Wednesday), today's made without it
    await(
        pool.query(PartitionMaintainer.createPartition("event_chunks", WEDNESDAY.minusDays(2)))
            .execute());
    await(
        pool.query(
                "CREATE TABLE event_chunks_20310305 PARTITION OF event_chunks"
                    + " FOR VALUES FROM ('2031-03-05 00:00:00+00') TO ('2031-03-06 00:00:00+00')")
            .execute());
    // a vacuum against wraparound would hold this lock on Monday's and not give way
    SqlConnection vacuum = await(pool.getConnection());
    SqlConnection chore = await(pool.getConnection());
    try {
      await(vacuum.query("BEGIN").execute());
      await(
          vacuum
              .query("LOCK TABLE event_chunks_20310303 IN SHARE UPDATE EXCLUSIVE MODE")
              .execute());
      await(chore.query("SET lock_timeout = '200ms'").execute());

      assertThat(await(maintainer.settleVacuum(chore, WEDNESDAY)))
          .containsExactly("event_chunks_20310305");
      assertThat(insertVacuumOff(vacuum, "event_chunks_20310303"))
          .as("Monday, still locked")
          .isTrue();
      assertThat(insertVacuumOff(vacuum, "event_chunks_20310305")).isTrue();

      await(vacuum.query("COMMIT").execute());
      assertThat(await(maintainer.settleVacuum(chore, WEDNESDAY)))
          .containsExactly("event_chunks_20310303");
      assertThat(insertVacuumOff(vacuum, "event_chunks_20310303")).isFalse();
    } finally {
      vacuum.close();
      chore.close();
    }
  }

  /** Whether autovacuum's insert-triggered vacuum is off for {@code table}. */
  boolean insertVacuumOff(String table) {
    return insertVacuumOff(pool, table);
  }

  /** Whether autovacuum's analyze is off for {@code table} (while it is written). */
  boolean analyzeOff(String table) {
    return hasOption(pool, table, "autovacuum_analyze_threshold=2147483647");
  }

  static boolean insertVacuumOff(io.vertx.sqlclient.SqlClient client, String table) {
    return hasOption(client, table, "autovacuum_vacuum_insert_threshold=-1");
  }

  /** Whether {@code table}'s storage options hold {@code option}, spelled as reloptions does. */
  static boolean hasOption(io.vertx.sqlclient.SqlClient client, String table, String option) {
    Row r =
        await(
                client
                    .preparedQuery(
                        "SELECT coalesce($2 = ANY(reloptions), false)"
                            + " FROM pg_class WHERE oid = $1::regclass")
                    .execute(Tuple.of(table, option)))
            .iterator()
            .next();
    return r.getBoolean(0);
  }

  List<String> partitions(String parent) {
    List<String> names = new ArrayList<>();
    for (Row r :
        await(
            pool.preparedQuery(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                        + " WHERE i.inhparent = $1::regclass ORDER BY c.relname")
                .execute(Tuple.of(parent)))) {
      names.add(r.getString(0));
    }
    return names;
  }

  List<String> uniqueIndexes(String table) {
    List<String> names = new ArrayList<>();
    for (Row r :
        await(
            pool.preparedQuery(
                    "SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid"
                        + " WHERE x.indrelid = $1::regclass AND x.indisunique")
                .execute(Tuple.of(table)))) {
      names.add(r.getString(0));
    }
    return names;
  }

  long head(String m) {
    return await(
            pool.preparedQuery("SELECT head_seq FROM merchants WHERE merchant_id = $1")
                .execute(Tuple.of(m)))
        .iterator()
        .next()
        .getLong(0);
  }
}
