package io.orderpush.persistence.events;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EventLogIT {

  static Vertx vertx;
  static Pool pool;
  static EventLog log = new EventLog();
  final List<String> merchants = new ArrayList<>();

  @BeforeAll
  static void start() {
    var pg = TestServices.migratedPg();
    vertx = Vertx.vertx();
    pool = PgPools.create(vertx, pg, "test", 4, 100);
    await(new PartitionMaintainer(pool, 1).ensurePartitions());
  }

  @AfterAll
  static void stop() {
    await(pool.close());
    await(vertx.close());
  }

  @AfterEach
  void cleanUp() {
    String[] ids = merchants.toArray(String[]::new);
    Tuple t = Tuple.tuple().addArrayOfString(ids);
    await(pool.preparedQuery("DELETE FROM event_keys WHERE merchant_id = ANY($1)").execute(t));
    await(pool.preparedQuery("DELETE FROM event_chunks WHERE merchant_id = ANY($1)").execute(t));
    await(pool.preparedQuery("DELETE FROM merchants WHERE merchant_id = ANY($1)").execute(t));
  }

  String merchant() {
    String m = TestServices.uniqueMerchant("log");
    merchants.add(m);
    return m;
  }

  static NewEvent event(String merchant, String eventId) {
    return new NewEvent(
        merchant,
        eventId,
        "\"eventId\":\""
            + eventId
            + "\",\"orderId\":\"o\",\"type\":\"order.created\","
            + "\"occurredAt\":\"2026-11-11T00:00:00Z\",\"data\":{\"n\":\""
            + eventId
            + "\"}}");
  }

  List<AppendResult> append(List<NewEvent> events) {
    return await(pool.withTransaction(tx -> log.append(tx, events, Instant.now())));
  }

  @Test
  void shouldAssignDenseSeqsPerMerchantAcrossGroups() {
    String a = merchant();
    String b = merchant();
    List<AppendResult> first = append(List.of(event(a, "1"), event(b, "1"), event(a, "2")));
    List<AppendResult> second = append(List.of(event(b, "2"), event(a, "3")));

    assertThat(first).extracting(AppendResult::seq).containsExactly(1L, 1L, 2L);
    assertThat(second).extracting(AppendResult::seq).containsExactly(2L, 3L);
    assertThat(await(log.head(pool, a))).isEqualTo(3);
    assertThat(await(log.read(pool, a, 1, 100)))
        .extracting(LoggedEvent::seq)
        .containsExactly(1L, 2L, 3L);
  }

  @Test
  void shouldLeaveRoomOnTheMerchantsPagesForTheDeadVersionsOfTheirHeads() {
    // V20: pages of merchants are pruned of a head's dead versions as soon as they are dead
    var options =
        await(
                pool.query("SELECT reloptions FROM pg_class WHERE oid = 'merchants'::regclass")
                    .execute())
            .iterator()
            .next()
            .getArrayOfStrings(0);
    assertThat(options).contains("fillfactor=10");
  }

  @Test
  void shouldAnswerRepeatsWithTheOriginalSeqWithinAndAcrossGroups() {
    String m = merchant();
    append(List.of(event(m, "x"), event(m, "y")));
    List<AppendResult> again =
        append(List.of(event(m, "y"), event(m, "z"), event(m, "z"), event(m, "x")));

    assertThat(again).extracting(AppendResult::seq).containsExactly(2L, 3L, 3L, 1L);
    assertThat(again).extracting(AppendResult::duplicate).containsExactly(true, false, true, true);
    assertThat(await(log.head(pool, m))).isEqualTo(3);
    assertThat(await(log.read(pool, m, 1, 100))).hasSize(3);
  }

  @Test
  void shouldSplitLargeRunsIntoChunksAndReadAcrossTheirBoundaries() {
    String m = merchant();
    int n = EventLog.CHUNK_MAX_EVENTS * 2 + 7;
    append(IntStream.rangeClosed(1, n).mapToObj(i -> event(m, "e" + i)).toList());

    long chunks =
        await(
                pool.preparedQuery("SELECT count(*) FROM event_chunks WHERE merchant_id = $1")
                    .execute(Tuple.of(m)))
            .iterator()
            .next()
            .getLong(0);
    assertThat(chunks).isEqualTo(3);

    long from = EventLog.CHUNK_MAX_EVENTS - 2;
    List<LoggedEvent> page = await(log.read(pool, m, from, 10));
    assertThat(page)
        .extracting(LoggedEvent::seq)
        .containsExactlyElementsOf(IntStream.range(0, 10).mapToObj(i -> from + i).toList());
    assertThat(page.get(0).json())
        .startsWith("{\"seq\":" + from + ",")
        .contains("\"eventId\":\"e" + from + "\"");

    List<LoggedEvent> all = await(log.read(pool, m, 1, 10_000));
    assertThat(all).hasSize(n);
    assertThat(await(log.read(pool, m, n + 1, 10))).isEmpty();
  }

  @Test
  void shouldCommitConcurrentRequestsOfOneMerchantDenselyThroughTheGroupCommitter() {
    String m = merchant();
    var committer =
        new GroupCommitter(
            vertx,
            pool,
            log,
            new GroupCommitter.Settings(2, 500, 100_000),
            new SimpleMeterRegistry());
    List<Future<List<AppendResult>>> answers = new ArrayList<>();
    for (int r = 0; r < 40; r++) {
      int req = r;
      answers.add(
          committer.append(IntStream.range(0, 25).mapToObj(i -> event(m, req + "-" + i)).toList()));
    }
    await(Future.all(answers));
    List<Long> seqs =
        answers.stream().flatMap(f -> f.result().stream()).map(AppendResult::seq).sorted().toList();
    assertThat(seqs)
        .containsExactlyElementsOf(IntStream.rangeClosed(1, 1000).mapToObj(i -> (long) i).toList());
    // Each request's own events are consecutive: a batch is one transaction.
    for (var f : answers) {
      List<Long> own = f.result().stream().map(AppendResult::seq).toList();
      assertThat(own.get(own.size() - 1) - own.get(0)).isEqualTo(own.size() - 1);
    }
    await(committer.close());
  }

  @Test
  void shouldRefuseRequestsOnceClosed() {
    var committer =
        new GroupCommitter(
            vertx, pool, log, new GroupCommitter.Settings(1, 10, 100), new SimpleMeterRegistry());
    await(committer.close());
    Future<List<AppendResult>> refused = committer.append(List.of(event(merchant(), "late")));
    assertThat(refused.toCompletionStage().toCompletableFuture())
        .failsWithin(5, TimeUnit.SECONDS)
        .withThrowableThat()
        .havingRootCause()
        .isInstanceOf(IngestOverloadedException.class);
  }

  static <T> T await(Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }
}
