package io.orderpush.persistence.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.persistence.events.EventLog;
import io.orderpush.persistence.events.PartitionMaintainer;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.testing.ScratchDatabases;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The audit trail packs one channel's batches over one connection into a row (V16) and still
 * answers one item per batch: in the order they left, with each batch's own time, paged item by
 * item, filtered by each item's time; and the records of the table it replaced are moved over.
 */
class AuditStoreIT {

  static Vertx vertx;
  static Pool pool;
  static final AuditStore store = new AuditStore();

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    pool = PgPools.create(vertx, TestServices.migratedPg(), "audit-store", 2, 100);
    await(new PartitionMaintainer(pool, 1, AuditStore.TABLES).ensurePartitions());
  }

  @AfterAll
  static void stop() {
    await(pool.close());
    await(vertx.close());
  }

  static <T> T await(Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }

  /** Today's noon (UTC): rows spanning seconds never meet midnight. */
  static final long NOON =
      LocalDate.now(ZoneOffset.UTC).atTime(12, 0).toInstant(ZoneOffset.UTC).toEpochMilli();

  static AuditRecord ws(UUID app, String m, long seq, String via, long at) {
    return AuditRecord.sent(app, m, seq, seq, Transport.WEBSOCKET, via, at, false);
  }

  static AuditFilter merchant(String m, Instant from, Instant to, AuditStore.Cursor after, int n) {
    return new AuditFilter(m, null, null, from, to, null, null, after, n);
  }

  static long rows(String m) {
    return await(
            pool.preparedQuery("SELECT count(*) FROM audit_batches WHERE merchant_id = $1")
                .execute(Tuple.of(m)))
        .iterator()
        .next()
        .getLong(0);
  }

  /** Every page of {@code filter}, following {@code next}. */
  static List<AuditRecord> all(AuditFilter filter) {
    List<AuditRecord> items = new ArrayList<>();
    AuditFilter f = filter;
    for (int pages = 0; pages < 100; pages++) {
      AuditStore.Page page = await(store.find(pool, f));
      items.addAll(page.items());
      if (page.next().isEmpty()) {
        return items;
      }
      f =
          new AuditFilter(
              f.merchantId(),
              f.appId(),
              f.order(),
              f.from(),
              f.to(),
              f.transport(),
              f.statusClass(),
              AuditStore.cursor(page.next().get()),
              f.limit());
    }
    throw new AssertionError("more than 100 pages");
  }

  @Test
  void shouldFindByHeldSeqsOnlyTheBatchesThatHeldOneWhenTheyPassedSomeOver() {
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-held");
    // One channel's row: 1-3 whole, then 4-9 holding 4, 6 and 9 only (types passed over), then
    // 10; and a callback attempt of its own row holding 11 and 13 of 11-13.
    AuditRecord whole = AuditRecord.sent(app, m, 1, 3, Transport.WEBSOCKET, "c", NOON, true);
    AuditRecord filtered =
        AuditRecord.sent(app, m, 4, 9, Transport.WEBSOCKET, "c", NOON + 5, true)
            .holding(AuditRecord.held(i -> new long[] {4, 6, 9}[i], 3));
    AuditRecord last = AuditRecord.sent(app, m, 10, 10, Transport.WEBSOCKET, "c", NOON + 9, true);
    AuditRecord attempt =
        AuditRecord.attempt(
                app,
                m,
                11,
                13,
                "https://isv.example/hook",
                NOON + 20,
                true,
                new AuditRecord.Outcome(200, null, "msg_1", 5, "ok"))
            .holding("11,13");
    await(store.insert(pool, List.of(whole, filtered, last, attempt)));
    assertThat(filtered.heldSeqs()).isEqualTo("4,6,9");
    assertThat(rows(m)).isEqualTo(2);

    assertThat(bySeqs(m, 2)).extracting(AuditRecord::fromSeq).containsExactly(1L);
    assertThat(bySeqs(m, 5)).as("passed over by 4-9").isEmpty();
    assertThat(bySeqs(m, 5, 7, 8)).isEmpty();
    assertThat(bySeqs(m, 6)).extracting(AuditRecord::fromSeq).containsExactly(4L);
    assertThat(bySeqs(m, 9, 10)).extracting(AuditRecord::fromSeq).containsExactly(4L, 10L);
    assertThat(bySeqs(m, 12)).as("passed over by the attempt").isEmpty();
    assertThat(bySeqs(m, 13)).extracting(AuditRecord::fromSeq).containsExactly(11L);
    assertThat(byEvents(m, m + "-other", 6, 9, 10, 13)).as("another merchant's seqs").isEmpty();
    // without seqs, every batch, whatever it held
    assertThat(all(merchant(m, null, null, null, 10))).hasSize(4);
  }

  static List<AuditRecord> bySeqs(String m, long... seqs) {
    return byEvents(m, m, seqs);
  }

  /** The batches of {@code m} holding seqs {@code seqs} of {@code ofMerchant}. */
  static List<AuditRecord> byEvents(String m, String ofMerchant, long... seqs) {
    String[] merchants = new String[seqs.length];
    java.util.Arrays.fill(merchants, ofMerchant);
    return all(
        new AuditFilter(
            m, null, new EventLog.OrderEvents(merchants, seqs), null, null, null, null, null, 10));
  }

  @Test
  void shouldListHeldSeqsOnlyWhenABatchPassedSomeOverAndNotTooMany() {
    assertThat(AuditRecord.held(i -> 5 + i, 4)).as("5-8, all of them").isNull();
    assertThat(AuditRecord.held(i -> new long[] {5, 7, 8}[i], 3)).isEqualTo("5,7,8");
    // seqs of 7 digits, every other one: 8 characters each with the comma
    assertThat(AuditRecord.held(i -> 1_000_001L + 2L * i, 125)).hasSize(125 * 8 - 1);
    assertThat(AuditRecord.held(i -> 1_000_001L + 2L * i, 126))
        .as("longer than %s characters: found by the range", AuditRecord.MAX_HELD_CHARS)
        .isNull();
  }

  @Test
  void shouldPackOneChannelsBatchesIntoOneRowAndAnswerOneItemPerBatchInTheOrderTheyLeft() {
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-pack");
    long t = NOON;
    List<AuditRecord> written = new ArrayList<>();
    for (int i = 1; i <= 5; i++) {
      written.add(ws(app, m, i, "conn-1", t + 10 * i));
    }
    written.add(ws(app, m, 6, "conn-2", t + 60)); // another connection: a row of its own
    written.add(
        AuditRecord.attempt(
            app,
            m,
            7,
            8,
            "https://isv.example/hook",
            t + 70,
            true,
            new AuditRecord.Outcome(503, null, "msg_1", 12, "busy")));
    written.add(
        AuditRecord.attempt(
            app,
            m,
            7,
            8,
            "https://isv.example/hook",
            t + 80,
            true,
            new AuditRecord.Outcome(0, "timeout", "msg_1", 5000, null)));
    await(store.insert(pool, written));

    assertThat(rows(m)).as("5 batches of one channel over one connection share a row").isEqualTo(4);
    assertThat(all(merchant(m, null, null, null, 100))).containsExactlyElementsOf(written);
  }

  @Test
  void shouldPageThroughAPackedRowItemByItemWithoutLosingOrRepeatingOne() {
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-page");
    long t = NOON;
    List<AuditRecord> written = new ArrayList<>();
    for (int i = 1; i <= 7; i++) {
      written.add(ws(app, m, i, "conn", t + i));
    }
    await(store.insert(pool, written));
    assertThat(rows(m)).isEqualTo(1);

    AuditStore.Page first = await(store.find(pool, merchant(m, null, null, null, 3)));
    assertThat(first.items()).containsExactlyElementsOf(written.subList(0, 3));
    assertThat(first.next()).isPresent();
    assertThat(all(merchant(m, null, null, null, 3))).containsExactlyElementsOf(written);
    assertThat(all(merchant(m, null, null, null, 1))).containsExactlyElementsOf(written);
  }

  @Test
  void shouldFilterByEachBatchsOwnTimeInsideARowAndAcrossThePackSpan() {
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-time");
    long t = NOON;
    List<AuditRecord> written = new ArrayList<>();
    for (int i = 1; i <= 4; i++) {
      written.add(ws(app, m, i, "conn", t + 1000L * i)); // 1..4 s in
    }
    // past the span of the first row's earliest batch: a second row
    written.add(ws(app, m, 5, "conn", t + 1000 + AuditStore.PACK_SPAN_MS + 1));
    written.add(ws(app, m, 6, "conn", t + 1000 + AuditStore.PACK_SPAN_MS + 2));
    await(store.insert(pool, written));
    assertThat(rows(m)).isEqualTo(2);

    Instant from = Instant.ofEpochMilli(t + 2500); // inside the first row
    Instant to = Instant.ofEpochMilli(t + 1000 + AuditStore.PACK_SPAN_MS + 2); // before the last
    assertThat(all(merchant(m, from, to, null, 2)))
        .containsExactlyElementsOf(written.subList(2, 5));
    assertThat(all(merchant(m, Instant.ofEpochMilli(t + 4000), null, null, 10)))
        .containsExactlyElementsOf(written.subList(3, 6));
  }

  @Test
  void shouldKeepARowWithinTheSpanOfItsEarliestBatchWhateverOrderTheyCameIn() {
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-span");
    long t = NOON;
    List<AuditRecord> written =
        List.of(
            ws(app, m, 2, "conn", t + 5_000),
            ws(app, m, 1, "conn", t), // the earliest comes second
            ws(app, m, 3, "conn", t + AuditStore.PACK_SPAN_MS)); // the span exactly
    await(store.insert(pool, written));
    assertThat(rows(m)).isEqualTo(1);
    assertThat(all(merchant(m, null, null, null, 10))).containsExactlyElementsOf(written);
    // from the last batch's own time: its row starts a whole span earlier
    assertThat(all(merchant(m, Instant.ofEpochMilli(t + AuditStore.PACK_SPAN_MS), null, null, 10)))
        .containsExactly(written.get(2));
  }

  @Test
  void shouldStartANewRowAtMidnightSoRetentionDropsEachBatchWithItsOwnDay() {
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-midnight");
    LocalDate tomorrow = LocalDate.now(ZoneOffset.UTC).plusDays(1);
    long midnight = tomorrow.atStartOfDay().toInstant(ZoneOffset.UTC).toEpochMilli();
    await(
        store.insert(
            pool, List.of(ws(app, m, 1, "conn", midnight - 1), ws(app, m, 2, "conn", midnight))));
    List<String> parts = new ArrayList<>();
    await(
            pool.preparedQuery(
                    "SELECT tableoid::regclass::text FROM audit_batches WHERE merchant_id = $1"
                        + " ORDER BY delivered_at")
                .execute(Tuple.of(m)))
        .forEach(r -> parts.add(r.getString(0)));
    String day = DateTimeFormatter.ofPattern("yyyyMMdd").format(tomorrow);
    String before = DateTimeFormatter.ofPattern("yyyyMMdd").format(tomorrow.minusDays(1));
    assertThat(parts).containsExactly("audit_batches_" + before, "audit_batches_" + day);
  }

  @Test
  void shouldPageRowsThatStartInTheSameMillisecondThroughTheirMiddles() {
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-ties");
    long t = NOON;
    List<AuditRecord> written = new ArrayList<>();
    for (String via : List.of("a", "b", "c")) {
      for (int i = 0; i < 3; i++) {
        written.add(ws(app, m, 1 + i, via, t + i));
      }
    }
    await(store.insert(pool, written));
    assertThat(rows(m)).isEqualTo(3);
    List<AuditRecord> onePage = await(store.find(pool, merchant(m, null, null, null, 100))).items();
    assertThat(onePage).containsExactlyInAnyOrderElementsOf(written);
    assertThat(all(merchant(m, null, null, null, 2))).containsExactlyElementsOf(onePage);
    assertThat(all(merchant(m, null, null, null, 4))).containsExactlyElementsOf(onePage);
  }

  @Test
  void shouldStoreACallbackAnswerHoldingNulCharactersInsteadOfLosingTheWrite() {
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-nul");
    AuditRecord gzip =
        AuditRecord.attempt(
            app,
            m,
            1,
            1,
            "https://isv.example/hook",
            System.currentTimeMillis(),
            false,
            new AuditRecord.Outcome(200, "reset\0", "msg_1", 3, "\u001f\u008b\0\0ok"));
    AuditRecord other = ws(app, m, 2, "conn", System.currentTimeMillis());
    await(store.insert(pool, List.of(gzip, other)));
    List<AuditRecord> items = all(merchant(m, null, null, null, 10));
    assertThat(items).containsExactlyInAnyOrder(gzip, other);
    assertThat(items)
        .filteredOn(r -> r.outcome() != null)
        .singleElement()
        .satisfies(
            r -> assertThat(r.outcome().responseHead()).isEqualTo("\u001f\u008b\uFFFD\uFFFDok"));
  }

  @Test
  void shouldTakeACursorOfTheTableItReplacedAsAfterAllOfItsRow() {
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-old-cursor");
    long t = NOON;
    List<AuditRecord> written = List.of(ws(app, m, 1, "a", t), ws(app, m, 2, "b", t + 1));
    await(store.insert(pool, written));
    AuditStore.Page first = await(store.find(pool, merchant(m, null, null, null, 1)));
    AuditStore.Cursor c = AuditStore.cursor(first.next().orElseThrow());
    // what the API handed out before V16: microseconds and id
    String old =
        java.util.Base64.getUrlEncoder()
            .withoutPadding()
            .encodeToString((c.deliveredAtMicros() + "." + c.id()).getBytes());
    AuditStore.Page next =
        await(store.find(pool, merchant(m, null, null, AuditStore.cursor(old), 10)));
    assertThat(next.items()).containsExactly(written.get(1));
  }

  @Test
  void shouldMoveTheRecordsOfTheTableItReplacesWithTheirIds() throws Exception {
    PgSettings test = TestServices.migratedPg();
    String db = ScratchDatabases.create(test, "gateway_audit_v16_");
    PgSettings pg = ScratchDatabases.settings(test, db);
    try {
      ScratchDatabases.migrate(pg, "15");
      LocalDate day = LocalDate.now(ZoneOffset.UTC).minusDays(3);
      String suffix = DateTimeFormatter.ofPattern("yyyyMMdd").format(day);
      UUID app = UUID.randomUUID();
      List<String> oldIds = new ArrayList<>();
      try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
          Statement s = c.createStatement()) {
        s.execute(
            "CREATE TABLE audit_deliveries_"
                + suffix
                + " PARTITION OF audit_deliveries FOR VALUES FROM ('"
                + day
                + " 00:00:00+00') TO ('"
                + day.plusDays(1)
                + " 00:00:00+00')");
        s.execute(
            "INSERT INTO audit_deliveries (delivered_at, app_id, merchant_id, from_seq, to_seq,"
                + " transport, via, masked, status, error, webhook_id, latency_ms, response_head)"
                + " VALUES ('"
                + day
                + " 10:00:00.123+00', '"
                + app
                + "', 'm-old', 3, 9, 'websocket', 'conn-x', true, NULL, NULL, NULL, NULL, NULL),"
                + " ('"
                + day
                + " 10:00:01+00', '"
                + app
                + "', 'm-old', 10, 10, 'callback', 'https://isv.example/h', false, 500, NULL,"
                + " 'msg_9', 33, 'oops')");
        var old = s.executeQuery("SELECT id FROM audit_deliveries ORDER BY id");
        while (old.next()) {
          oldIds.add(old.getLong(1) + " audit_batches_" + suffix);
        }
      }
      ScratchDatabases.migrate(pg, "latest");

      Pool moved = PgPools.create(vertx, pg, "audit-moved", 1, 10);
      try {
        AuditStore.Page page =
            await(
                store.find(
                    moved, new AuditFilter(null, app, null, null, null, null, null, null, 10)));
        long at = day.atTime(10, 0).toInstant(ZoneOffset.UTC).toEpochMilli();
        assertThat(page.items())
            .containsExactly(
                AuditRecord.sent(app, "m-old", 3, 9, Transport.WEBSOCKET, "conn-x", at + 123, true),
                AuditRecord.attempt(
                    app,
                    "m-old",
                    10,
                    10,
                    "https://isv.example/h",
                    at + 1000,
                    false,
                    new AuditRecord.Outcome(500, null, "msg_9", 33, "oops")));
        List<String> ids = new ArrayList<>();
        await(
                moved
                    .query("SELECT id, tableoid::regclass::text FROM audit_batches ORDER BY id")
                    .execute())
            .forEach(r -> ids.add(r.getLong(0) + " " + r.getString(1)));
        assertThat(oldIds).hasSize(2);
        assertThat(ids).containsExactlyElementsOf(oldIds);
        long nextId =
            await(moved.query("SELECT nextval('audit_batches_id_seq')").execute())
                .iterator()
                .next()
                .getLong(0);
        assertThat(nextId)
            .as("new rows come after the moved ones")
            .isGreaterThan(Long.parseLong(oldIds.get(1).split(" ")[0]));
        assertThat(
                await(moved.query("SELECT to_regclass('audit_deliveries') IS NULL").execute())
                    .iterator()
                    .next()
                    .getBoolean(0))
            .isTrue();
      } finally {
        await(moved.close());
      }
    } finally {
      ScratchDatabases.drop(test, db);
    }
  }

  @Test
  void shouldNotLoseARecordAnOldNodeCommitsWhileTheTrailIsMoved() throws Exception {
    PgSettings test = TestServices.migratedPg();
    String db = ScratchDatabases.create(test, "gateway_audit_v16_");
    PgSettings pg = ScratchDatabases.settings(test, db);
    try {
      ScratchDatabases.migrate(pg, "15");
      String day = LocalDate.now(ZoneOffset.UTC).toString();
      UUID app = UUID.randomUUID();
      try (Connection oldNode =
              DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
          Statement s = oldNode.createStatement()) {
        s.execute(
            "CREATE TABLE audit_deliveries_today PARTITION OF audit_deliveries FOR VALUES FROM ('"
                + day
                + " 00:00:00+00') TO ('"
                + day
                + " 23:59:59.999999+00')");
        // an old node's audit write, in flight when the new node migrates
        oldNode.setAutoCommit(false);
        s.execute(
            "INSERT INTO audit_deliveries (delivered_at, app_id, merchant_id, from_seq, to_seq,"
                + " transport, via, masked) VALUES (now(), '"
                + app
                + "', 'm-late', 1, 1, 'websocket', 'c', false)");
        var migration =
            java.util.concurrent.CompletableFuture.runAsync(
                () -> ScratchDatabases.migrate(pg, "latest"));
        try (Connection watch =
                DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
            Statement w = watch.createStatement()) {
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
          boolean waiting = false;
          while (!waiting && System.nanoTime() < deadline && !migration.isDone()) {
            var rs =
                w.executeQuery(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        + " AND wait_event_type = 'Lock'");
            rs.next();
            waiting = rs.getLong(1) > 0;
            if (!waiting) {
              Thread.sleep(20);
            }
          }
          assertThat(waiting).as("the migration waits for the old node's write").isTrue();
        }
        oldNode.commit();
        migration.get(60, TimeUnit.SECONDS);
      }
      Pool moved = PgPools.create(vertx, pg, "audit-late", 1, 10);
      try {
        AuditStore.Page page =
            await(
                store.find(
                    moved, new AuditFilter(null, app, null, null, null, null, null, null, 10)));
        assertThat(page.items()).extracting(AuditRecord::merchantId).containsExactly("m-late");
      } finally {
        await(moved.close());
      }
    } finally {
      ScratchDatabases.drop(test, db);
    }
  }
}
