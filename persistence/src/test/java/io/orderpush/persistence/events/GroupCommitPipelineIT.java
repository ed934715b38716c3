package io.orderpush.persistence.events;

import static io.orderpush.persistence.events.EventLogIT.await;
import static io.orderpush.persistence.events.EventLogIT.event;
import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The group committer with several transactions in flight (issue 14.2): seqs stay dense and in
 * commit order per merchant, requests stay whole, repeats are answered with the original seq,
 * whatever the overlap of merchants between groups, committers (nodes) and threads.
 */
class GroupCommitPipelineIT {

  static Vertx vertx;
  static Pool pool;
  final List<String> merchants = new ArrayList<>();
  final List<GroupCommitter> committers = new ArrayList<>();
  final List<Pool> writerPools = new ArrayList<>();

  @BeforeAll
  static void start() {
    var pg = TestServices.migratedPg();
    vertx = Vertx.vertx();
    pool = PgPools.create(vertx, pg, "pipeline-test", 8, 1000);
    await(new PartitionMaintainer(pool, 1).ensurePartitions());
  }

  @AfterAll
  static void stop() {
    await(pool.close());
    await(vertx.close());
  }

  @AfterEach
  void cleanUp() {
    committers.forEach(c -> await(c.close()));
    writerPools.forEach(p -> await(p.close()));
    String[] ids = merchants.toArray(String[]::new);
    Tuple t = Tuple.tuple().addArrayOfString(ids);
    await(pool.preparedQuery("DELETE FROM event_keys WHERE merchant_id = ANY($1)").execute(t));
    await(pool.preparedQuery("DELETE FROM event_chunks WHERE merchant_id = ANY($1)").execute(t));
    await(pool.preparedQuery("DELETE FROM merchants WHERE merchant_id = ANY($1)").execute(t));
  }

  String merchant() {
    String m = TestServices.uniqueMerchant("pipe");
    merchants.add(m);
    return m;
  }

  GroupCommitter committer(int transactions, int maxGroupEvents, SimpleMeterRegistry registry) {
    return committer(new EventLog(), transactions, maxGroupEvents, registry);
  }

  GroupCommitter committer(
      EventLog log, int transactions, int maxGroupEvents, SimpleMeterRegistry registry) {
    // its own writer connections, as the gateway's
    Pool writers =
        PgPools.create(vertx, TestServices.migratedPg(), "writers", transactions, transactions * 4);
    writerPools.add(writers);
    var c =
        new GroupCommitter(
            vertx,
            writers,
            log,
            new GroupCommitter.Settings(transactions, maxGroupEvents, 1_000_000),
            registry);
    committers.add(c);
    return c;
  }

  static double count(SimpleMeterRegistry r, String name, String path) {
    var search = r.find(name);
    if (path != null) {
      search = search.tag("path", path);
    }
    var counter = search.counter();
    return counter == null ? 0 : counter.count();
  }

  @Test
  void shouldLetGoOfTheEventsOfQueuedRequestsItAnsweredWithATimeout() throws Exception {
    Pool writers = PgPools.create(vertx, TestServices.migratedPg(), "writers", 1, 4);
    writerPools.add(writers);
    GroupCommitter c =
        new GroupCommitter(
            vertx,
            writers,
            new EventLog(),
            new GroupCommitter.Settings(1, 1000, 1_000_000, Duration.ofMillis(300)),
            new SimpleMeterRegistry());
    committers.add(c);
    SqlConnection holder = await(pool.getConnection());
    List<Future<List<AppendResult>>> answers = new ArrayList<>();
    try {
      // PostgreSQL stalls: the one transaction waits for this lock, the rest queue behind it
      await(holder.query("BEGIN").execute());
      await(holder.query("LOCK TABLE event_keys IN ACCESS EXCLUSIVE MODE").execute());
      for (int i = 0; i < 20; i++) {
        String m = merchant();
        answers.add(c.append(List.of(event(m, "t-" + i), event(m, "u-" + i))));
      }
      awaitCondition(
          () -> answers.stream().filter(Future::failed).count() == answers.size(),
          "every queued request answered with a timeout");
      assertThat(answers)
          .allSatisfy(a -> assertThat(a.cause()).isInstanceOf(IngestTimeoutException.class));
      assertThat(await(c.queuedRequests()))
          .as("requests (and their events) still held once answered")
          .isZero();
    } finally {
      await(holder.query("ROLLBACK").execute());
      await(holder.close());
    }
  }

  @Test
  void shouldKeepSeqsDenseAndRequestsWholeUnderConcurrentRequestsOverOverlappingMerchants()
      throws Exception {
    List<String> ms = IntStream.range(0, 12).mapToObj(i -> merchant()).toList();
    var registry = new SimpleMeterRegistry();
    GroupCommitter committer = committer(3, 120, registry);
    int requests = 240;
    // Real concurrency: requests arrive from 4 threads at once, each request over several of the
    // same 12 merchants, so nearly every pair of groups in flight shares merchants.
    ExecutorService threads = Executors.newFixedThreadPool(4);
    List<CompletableFuture<List<AppendResult>>> answers = new ArrayList<>();
    List<List<NewEvent>> sent = new ArrayList<>();
    SplittableRandom random = new SplittableRandom(42);
    for (int r = 0; r < requests; r++) {
      int n = 1 + random.nextInt(30);
      List<NewEvent> events = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        events.add(event(ms.get(random.nextInt(ms.size())), "r" + r + "-" + i));
      }
      sent.add(events);
    }
    for (List<NewEvent> events : sent) {
      CompletableFuture<List<AppendResult>> answer = new CompletableFuture<>();
      answers.add(answer);
      threads.execute(
          () ->
              committer
                  .append(events)
                  .onComplete(
                      ar -> {
                        if (ar.succeeded()) {
                          answer.complete(ar.result());
                        } else {
                          answer.completeExceptionally(ar.cause());
                        }
                      }));
    }
    CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    threads.shutdown();

    Map<String, List<Long>> answered = new HashMap<>();
    for (int r = 0; r < requests; r++) {
      List<AppendResult> results = answers.get(r).get();
      assertThat(results).hasSize(sent.get(r).size());
      Map<String, List<Long>> own = new HashMap<>();
      for (int i = 0; i < results.size(); i++) {
        AppendResult res = results.get(i);
        assertThat(res.eventId()).isEqualTo(sent.get(r).get(i).eventId());
        assertThat(res.duplicate()).isFalse();
        own.computeIfAbsent(res.merchantId(), m -> new ArrayList<>()).add(res.seq());
        answered.computeIfAbsent(res.merchantId(), m -> new ArrayList<>()).add(res.seq());
      }
      // A request is one transaction: its events of a merchant have consecutive seqs.
      own.values()
          .forEach(
              seqs -> {
                for (int i = 1; i < seqs.size(); i++) {
                  assertThat(seqs.get(i)).isEqualTo(seqs.get(i - 1) + 1);
                }
              });
    }
    EventLog log = new EventLog();
    for (String m : ms) {
      List<Long> seqs = answered.getOrDefault(m, List.of()).stream().sorted().toList();
      List<Long> dense = LongRange.of(1, seqs.size());
      assertThat(seqs).as("answered seqs of %s", m).isEqualTo(dense);
      assertThat(await(log.head(pool, m))).isEqualTo(seqs.size());
      List<LoggedEvent> stored = await(log.read(pool, m, 1, 100_000));
      assertThat(stored).extracting(LoggedEvent::seq).isEqualTo(dense);
      stored.forEach(e -> assertThat(e.json()).startsWith("{\"seq\":" + e.seq() + ","));
    }
    assertThat(count(registry, "gateway.ingest.groups", "expected_heads"))
        .as("groups that took the expected-heads path")
        .isPositive();
  }

  @Test
  void shouldWriteTheNextGroupOfAMerchantWhileTheOneBeforeCommitsAndCommitThemInOrder() {
    String m = merchant();
    var registry = new SimpleMeterRegistry();
    GroupCommitter committer = committer(2, 100, registry);
    await(committer.append(List.of(event(m, "first")))); // the committer learns the head: 1
    SqlConnection holder = holdCommitsOf(m);
    try {
      Future<List<AppendResult>> second = committer.append(List.of(event(m, "second")));
      Future<List<AppendResult>> third =
          committer.append(List.of(event(m, "third"), event(m, "fourth")));
      // The second holds the head and is committing (held by the trigger); the third has written
      // its keys and chunks meanwhile and waits for the merchant's row lock, at its end.
      awaitCondition(
          () -> waitingAtHeads() == 1 && committingHeld() == 1,
          "one transaction committing, the next one of the same merchant written and waiting");
      assertThat(second.isComplete()).isFalse();
      assertThat(third.isComplete()).isFalse();
      await(holder.query("SELECT pg_advisory_unlock(73310)").execute());
      assertThat(await(second)).extracting(AppendResult::seq).containsExactly(2L);
      assertThat(await(third)).extracting(AppendResult::seq).containsExactly(3L, 4L);
    } finally {
      releaseCommits(holder);
    }
    assertThat(await(new EventLog().read(pool, m, 1, 100)))
        .extracting(LoggedEvent::seq)
        .containsExactly(1L, 2L, 3L, 4L);
    assertThat(count(registry, "gateway.ingest.groups.replanned", null)).isZero();
    assertThat(count(registry, "gateway.ingest.groups", "expected_heads")).isEqualTo(2);
  }

  @Test
  void shouldNotLockAMerchantInTwoTransactionsAtOnceWhenAFailedGroupRunsItsRequestsAlone()
      throws Exception {
    String x = merchant(); // new to PostgreSQL: inserting its row is slowed down below
    String m = merchant();
    String b = merchant();
    var registry = new SimpleMeterRegistry();
    GroupCommitter committer = committer(2, 100, registry);
    List<Long> notified = java.util.Collections.synchronizedList(new ArrayList<>());
    committer.onCommitted(
        stored -> stored.getOrDefault(m, List.of()).forEach(e -> notified.add(e.seq())));
    await(committer.append(List.of(event(m, "m1"), event(b, "b1")))); // heads known: 1, 1
    await(
        pool.query(
                "CREATE OR REPLACE FUNCTION pipeline_it_poison() RETURNS trigger LANGUAGE plpgsql"
                    + " AS $$ BEGIN RAISE EXCEPTION 'poison' USING ERRCODE = '22023'; END $$")
            .execute());
    await(
        pool.query(
                "CREATE TRIGGER pipeline_it_poison BEFORE INSERT ON event_chunks FOR EACH ROW"
                    + " WHEN (NEW.events LIKE '%poison%') EXECUTE FUNCTION pipeline_it_poison()")
            .execute());
    await(
        pool.query(
                "CREATE OR REPLACE FUNCTION pipeline_it_slow() RETURNS trigger LANGUAGE plpgsql"
                    + " AS $$ BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$")
            .execute());
    await(
        pool.query(
                "CREATE TRIGGER pipeline_it_slow BEFORE INSERT ON merchants FOR EACH ROW"
                    + " WHEN (NEW.merchant_id = '"
                    + x
                    + "') EXECUTE FUNCTION pipeline_it_slow()")
            .execute());
    SqlConnection holder = holdCommitsOf(b);
    try {
      // Two groups of b fill both transactions (one committing, held; one waiting at b's row), so
      // the next three requests queue and go as one group, which the poisoned one fails: each
      // request then runs alone, the locking way.
      Future<List<AppendResult>> b2 = committer.append(List.of(event(b, "b2")));
      Future<List<AppendResult>> b3 = committer.append(List.of(event(b, "b3")));
      awaitCondition(
          () -> waitingAtHeads() == 1 && committingHeld() == 1, "two groups of b in flight");
      Future<List<AppendResult>> first = committer.append(List.of(event(x, "x1"), event(m, "m2")));
      Future<List<AppendResult>> second = committer.append(List.of(event(m, "m3")));
      Future<List<AppendResult>> poisoned = committer.append(List.of(event(b, "poison")));
      await(holder.query("SELECT pg_advisory_unlock(73310)").execute());
      await(Future.all(b2, b3));
      // The first takes m's row lock only after x's slow insert: had the second not waited for
      // it, the second would have taken m's next seq, and delivery heard of m's seqs backwards.
      assertThat(await(first)).extracting(AppendResult::seq).containsExactly(1L, 2L);
      assertThat(await(second)).extracting(AppendResult::seq).containsExactly(3L);
      assertThat(poisoned.toCompletionStage().toCompletableFuture())
          .failsWithin(Duration.ofSeconds(30));
    } finally {
      releaseCommits(holder);
      await(pool.query("DROP TRIGGER IF EXISTS pipeline_it_poison ON event_chunks").execute());
      await(pool.query("DROP TRIGGER IF EXISTS pipeline_it_slow ON merchants").execute());
    }
    assertThat(notified).containsExactly(1L, 2L, 3L);
    assertThat(await(new EventLog().read(pool, m, 1, 100)))
        .extracting(LoggedEvent::seq)
        .containsExactly(1L, 2L, 3L);
  }

  /**
   * Holds the COMMIT of every transaction that advances m's head until the returned connection lets
   * go ({@code pg_advisory_unlock(73310)}): a deferred trigger waits for an advisory lock it holds.
   * Drop the trigger afterwards ({@link #releaseCommits}).
   */
  static SqlConnection holdCommitsOf(String m) {
    await(
        pool.query(
                "CREATE OR REPLACE FUNCTION pipeline_it_hold() RETURNS trigger LANGUAGE plpgsql"
                    + " AS $$ BEGIN PERFORM pg_advisory_xact_lock(73310); RETURN NULL; END $$")
            .execute());
    await(
        pool.query(
                "CREATE CONSTRAINT TRIGGER pipeline_it_hold AFTER UPDATE ON merchants"
                    + " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.merchant_id = '"
                    + m
                    + "') EXECUTE FUNCTION pipeline_it_hold()")
            .execute());
    SqlConnection holder = await(pool.getConnection());
    await(holder.query("SELECT pg_advisory_lock(73310)").execute());
    return holder;
  }

  static void releaseCommits(SqlConnection holder) {
    try {
      await(holder.query("SELECT pg_advisory_unlock_all()").execute());
    } finally {
      holder.close();
      await(pool.query("DROP TRIGGER IF EXISTS pipeline_it_hold ON merchants").execute());
    }
  }

  /** Backends of this database whose COMMIT the test's trigger holds. */
  static int committingHeld() {
    return await(
            pool.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        + " AND wait_event = 'advisory' AND query = 'COMMIT'")
                .execute())
        .iterator()
        .next()
        .getInteger(0);
  }

  @Test
  void shouldAnswerARepeatWithItsOriginalSeqAfterPostgresRefusesTheExpectedHeads() {
    String m = merchant();
    var registry = new SimpleMeterRegistry();
    GroupCommitter committer = committer(2, 100, registry);
    await(committer.append(List.of(event(m, "a"), event(m, "b"))));
    List<AppendResult> again =
        await(committer.append(List.of(event(m, "c"), event(m, "a"), event(m, "d"))));

    assertThat(again).extracting(AppendResult::seq).containsExactly(3L, 1L, 4L);
    assertThat(again).extracting(AppendResult::duplicate).containsExactly(false, true, false);
    assertThat(count(registry, "gateway.ingest.groups.replanned", null)).isEqualTo(1);
    assertThat(await(new EventLog().read(pool, m, 1, 100)))
        .extracting(LoggedEvent::seq)
        .containsExactly(1L, 2L, 3L, 4L);
  }

  @Test
  void shouldAnswerAnEventRepeatedWithinARequestOnTheExpectedHeadsPath() {
    String m = merchant();
    var registry = new SimpleMeterRegistry();
    GroupCommitter committer = committer(2, 100, registry);
    await(committer.append(List.of(event(m, "w"))));
    List<AppendResult> answer =
        await(committer.append(List.of(event(m, "x"), event(m, "x"), event(m, "y"))));
    assertThat(answer).extracting(AppendResult::seq).containsExactly(2L, 2L, 3L);
    assertThat(answer).extracting(AppendResult::duplicate).containsExactly(false, true, false);
    assertThat(count(registry, "gateway.ingest.groups", "expected_heads")).isEqualTo(1);
    assertThat(count(registry, "gateway.ingest.groups.replanned", null)).isZero();
    assertThat(await(new EventLog().read(pool, m, 1, 100)))
        .extracting(LoggedEvent::seq)
        .containsExactly(1L, 2L, 3L);
  }

  @Test
  void shouldFindARepeatOfAnEventStoredOnAnEarlierDayOnTheExpectedHeadsPath() {
    String m = merchant();
    var registry = new SimpleMeterRegistry();
    GroupCommitter committer = committer(2, 100, registry);
    await(committer.append(List.of(event(m, "today")))); // seq 1; the committer knows the head
    // An event stored yesterday (in yesterday's partition) with seq 7, as another day's ingest
    // would have.
    await(
        pool.preparedQuery(
                "INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)"
                    + " VALUES ($1, 'yesterday', 7, $2)")
            .execute(
                Tuple.of(m, Instant.now().minus(Duration.ofDays(1)).atOffset(ZoneOffset.UTC))));

    List<AppendResult> again =
        await(committer.append(List.of(event(m, "yesterday"), event(m, "new"))));
    assertThat(again).extracting(AppendResult::duplicate).containsExactly(true, false);
    assertThat(again).extracting(AppendResult::seq).containsExactly(7L, 2L);
    assertThat(count(registry, "gateway.ingest.groups.replanned", null)).isEqualTo(1);
  }

  @Test
  void shouldStoreAnEventOnceWhenItComesAgainWhileItsFirstTransactionIsInFlight() {
    String m = merchant();
    var registry = new SimpleMeterRegistry();
    GroupCommitter committer = committer(2, 100, registry);
    await(committer.append(List.of(event(m, "before"))));
    SqlConnection holder = holdCommitsOf(m);
    Future<List<AppendResult>> first;
    Future<List<AppendResult>> retry;
    try {
      first = committer.append(List.of(event(m, "x")));
      awaitCondition(() -> committingHeld() == 1, "the first transaction committing");
      // A client retrying before its first answer: the first holds its head and is committing, so
      // a second transaction could start now; but neither could see the other's uncommitted key,
      // so the retry must not be in flight beside it.
      retry = committer.append(List.of(event(m, "x"), event(m, "y")));
      awaitCondition(
          () -> registry.get("gateway.ingest.queue.events").gauge().value() == 3,
          "the retry taken in");
      assertThat(count(registry, "gateway.ingest.groups", "expected_heads")).isEqualTo(1);
      assertThat(waitingAtHeads()).isZero();
      await(holder.query("SELECT pg_advisory_unlock(73310)").execute());
    } finally {
      releaseCommits(holder);
    }
    assertThat(await(first)).extracting(AppendResult::seq).containsExactly(2L);
    List<AppendResult> repeated = await(retry);
    assertThat(repeated).extracting(AppendResult::seq).containsExactly(2L, 3L);
    assertThat(repeated).extracting(AppendResult::duplicate).containsExactly(true, false);
    assertThat(await(new EventLog().read(pool, m, 1, 100)))
        .extracting(LoggedEvent::seq)
        .containsExactly(1L, 2L, 3L);
  }

  @Test
  void shouldKeepSeqsDenseWhenTwoNodesWriteTheSameMerchantsAtOnce() throws Exception {
    List<String> ms = IntStream.range(0, 5).mapToObj(i -> merchant()).toList();
    var registries = List.of(new SimpleMeterRegistry(), new SimpleMeterRegistry());
    List<GroupCommitter> nodes =
        List.of(committer(2, 50, registries.get(0)), committer(2, 50, registries.get(1)));
    SplittableRandom random = new SplittableRandom(7);
    List<Future<List<AppendResult>>> answers = new ArrayList<>();
    for (int r = 0; r < 200; r++) {
      List<NewEvent> events = new ArrayList<>();
      for (int i = 0; i < 1 + random.nextInt(10); i++) {
        events.add(event(ms.get(random.nextInt(ms.size())), "n" + r + "-" + i));
      }
      answers.add(nodes.get(r % 2).append(events));
    }
    await(Future.all(answers));
    Map<String, List<Long>> answered = new HashMap<>();
    answers.forEach(
        f ->
            f.result()
                .forEach(
                    r ->
                        answered
                            .computeIfAbsent(r.merchantId(), x -> new ArrayList<>())
                            .add(r.seq())));
    for (String m : ms) {
      List<Long> seqs = answered.get(m).stream().sorted().toList();
      assertThat(seqs).isEqualTo(LongRange.of(1, seqs.size()));
      assertThat(await(new EventLog().read(pool, m, 1, 100_000)))
          .extracting(LoggedEvent::seq)
          .isEqualTo(seqs);
    }
  }

  @Test
  void shouldRelearnAHeadAnotherNodeMovedWhenPostgresRefusesTheExpectedOne() {
    String m = merchant();
    var registry = new SimpleMeterRegistry();
    GroupCommitter a = committer(2, 100, registry);
    GroupCommitter b = committer(2, 100, new SimpleMeterRegistry());
    await(a.append(List.of(event(m, "a1")))); // a expects 1 from now on
    await(b.append(List.of(event(m, "b1"), event(m, "b2"))));

    assertThat(await(a.append(List.of(event(m, "a2")))))
        .extracting(AppendResult::seq)
        .containsExactly(4L);
    assertThat(count(registry, "gateway.ingest.groups.replanned", null)).isEqualTo(1);
    // right after a refusal the expected-heads path rests: the next group locks, and relearns
    assertThat(await(a.append(List.of(event(m, "a3")))))
        .extracting(AppendResult::seq)
        .containsExactly(5L);
    assertThat(count(registry, "gateway.ingest.groups", "expected_heads")).isEqualTo(1);
    assertThat(await(new EventLog().read(pool, m, 1, 100)))
        .extracting(LoggedEvent::seq)
        .containsExactly(1L, 2L, 3L, 4L, 5L);
  }

  @Test
  void shouldStopExpectingHeadsWhileAnotherNodeKeepsMovingThem() {
    // Two nodes write the same merchants all the time, as a 3-node cluster with round-robin
    // ingest does: without a rest after a refusal, nearly every group of each node expected heads
    // the other had just moved, was refused and ran a second time (524 of 524 in
    // perf/cluster-bench.sh sustained).
    List<String> ms = IntStream.range(0, 20).mapToObj(i -> merchant()).toList();
    var registries = List.of(new SimpleMeterRegistry(), new SimpleMeterRegistry());
    List<GroupCommitter> nodes =
        List.of(committer(1, 100, registries.get(0)), committer(1, 100, registries.get(1)));
    SplittableRandom random = new SplittableRandom(11);
    List<Future<List<AppendResult>>> answers = new ArrayList<>();
    for (int r = 0; r < 400; r++) {
      List<NewEvent> events = new ArrayList<>();
      for (String m : ms) {
        if (random.nextInt(4) == 0) {
          events.add(event(m, "s" + r + "-" + m));
        }
      }
      if (!events.isEmpty()) {
        answers.add(nodes.get(r % 2).append(events));
      }
      if (r % 20 == 19) {
        await(Future.all(answers)); // in waves, so each node's groups follow the other's commits
      }
    }
    await(Future.all(answers));
    double replanned =
        count(registries.get(0), "gateway.ingest.groups.replanned", null)
            + count(registries.get(1), "gateway.ingest.groups.replanned", null);
    double groups = 0;
    for (var r : registries) {
      groups +=
          r.find("gateway.ingest.groups").counters().stream().mapToDouble(c -> c.count()).sum();
    }
    // one refusal, then a rest of 1 s, 2 s, 4 s...: a handful, not one per group
    assertThat(replanned).as("groups refused of %s", groups).isLessThanOrEqualTo(6);
    for (String m : ms) {
      List<Long> seqs =
          await(new EventLog().read(pool, m, 1, 100_000)).stream().map(LoggedEvent::seq).toList();
      assertThat(seqs).isEqualTo(LongRange.of(1, seqs.size()));
    }
  }

  @Test
  void shouldLookForRepeatsOnlyAmongTheKeysRetentionKeeps() {
    String m = merchant();
    // Retention of 2 days below keeps the keys of the weeks holding those days: the day before
    // the first of them is past it.
    LocalDate old =
        PartitionMaintainer.weekOf(LocalDate.now(ZoneOffset.UTC).minusDays(2)).minusDays(1);
    // The partition holding that day: its week's, or its day's in a week that has days (made before
    // partitions by week). One made here is dropped at the end.
    List<String> names =
        List.of(
            PartitionMaintainer.partitionName("event_keys", PartitionMaintainer.weekOf(old), 7),
            PartitionMaintainer.partitionName("event_keys", old, 1));
    List<String> before = existing(names);
    await(new PartitionMaintainer(pool, 1).ensurePartitions(pool, old, old));
    try {
      Instant past = old.atTime(12, 0).toInstant(ZoneOffset.UTC);
      Instant yesterday = Instant.now().minus(Duration.ofDays(1));
      await(
          pool.preparedQuery(
                  "INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)"
                      + " VALUES ($1, 'gone', 1, $2), ($1, 'kept', 2, $3)")
              .execute(
                  Tuple.of(m, past.atOffset(ZoneOffset.UTC), yesterday.atOffset(ZoneOffset.UTC))));
      await(
          pool.preparedQuery("INSERT INTO merchants (merchant_id, head_seq) VALUES ($1, 2)")
              .execute(Tuple.of(m)));
      // Retention of 2 days: the partition of the old key is past it (not dropped yet).
      EventLog log =
          new EventLog(
              new io.orderpush.persistence.masking.Masker(
                  io.orderpush.persistence.masking.MaskRules.defaults()),
              2);
      List<AppendResult> results =
          await(
              pool.withTransaction(
                  tx ->
                      log.append(tx, List.of(event(m, "gone"), event(m, "kept")), Instant.now())));
      assertThat(results).extracting(AppendResult::duplicate).containsExactly(false, true);
      assertThat(results).extracting(AppendResult::seq).containsExactly(3L, 2L);
    } finally {
      for (String made : existing(names)) {
        if (!before.contains(made)) {
          await(pool.query("DROP TABLE " + made).execute());
        }
      }
    }
  }

  /** Those of {@code tables} that exist. */
  static List<String> existing(List<String> tables) {
    List<String> found = new ArrayList<>();
    for (String t : tables) {
      if (await(pool.preparedQuery("SELECT to_regclass($1) IS NOT NULL").execute(Tuple.of(t)))
          .iterator()
          .next()
          .getBoolean(0)) {
        found.add(t);
      }
    }
    return found;
  }

  /** Writer backends of this database waiting for a row lock in the heads statement. */
  static int waitingAtHeads() {
    return await(
            pool.query(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        + " AND wait_event_type = 'Lock' AND query LIKE '%a head moved%'"
                        + " AND pid <> pg_backend_pid()")
                .execute())
        .iterator()
        .next()
        .getInteger(0);
  }

  static void awaitCondition(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for: " + what);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  private static final class LongRange {
    static List<Long> of(long from, long to) {
      List<Long> out = new ArrayList<>();
      for (long i = from; i <= to; i++) {
        out.add(i);
      }
      return out;
    }
  }
}
