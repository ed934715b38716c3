package io.orderpush.gateway.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Events;
import io.orderpush.gateway.GatewayProcess;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Several nodes write ingest through one (the live node with the smallest id), three real gateway
 * processes on loopback: batches taken by the others are parsed there and committed by the writer
 * (over the commit feed), with dense seqs; a bad request is answered where it lands; and a node
 * whose writer is gone, or stops answering, writes itself rather than fail the request.
 */
class IngestForwardIT {

  private static final Duration WAIT = Duration.ofSeconds(60);
  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void shouldCommitBatchesParsedByEveryNodeThroughTheWriterAndAnswerBadOnesWhereTheyLand()
      throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 6);
    // node ids order the nodes: "a-" is the writer
    GatewayProcess writer = node("a-" + run, "forward-a.log");
    GatewayProcess b = node("b-" + run, "forward-b.log");
    GatewayProcess c = node("c-" + run, "forward-c.log");
    try {
      List<GatewayProcess> others = List.of(b, c);
      List<String> merchants = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        merchants.add("fwd-" + run + "-" + i);
      }
      // Until both forward: each has seen three live nodes and the writer's address.
      until(
          "both nodes forward to the writer",
          () -> {
            for (GatewayProcess n : others) {
              ingest(n, List.of(Events.event(merchants.get(0), UUID.randomUUID().toString())));
            }
            return forwarded(b) > 0 && forwarded(c) > 0;
          });
      double storedOnB = metric(b, "gateway_ingest_events_total{result=\"stored\"}");
      double storedOnC = metric(c, "gateway_ingest_events_total{result=\"stored\"}");
      double forwardedBefore = forwarded(b) + forwarded(c);
      double takenBefore = batches(writer, "committed");

      // 2 x 4 senders at once, through the two nodes that are not the writer
      Map<String, java.util.NavigableSet<Long>> seqs = new ConcurrentHashMap<>();
      ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
      ExecutorService pool = Executors.newFixedThreadPool(8);
      List<Future<?>> sent = new ArrayList<>();
      int batches = 0;
      for (int s = 0; s < 8; s++) {
        GatewayProcess to = others.get(s % 2);
        for (int k = 0; k < 10; k++) {
          batches++;
          sent.add(
              pool.submit(
                  () -> {
                    List<JsonObject> events = new ArrayList<>();
                    for (String m : merchants) {
                      events.add(Events.event(m, UUID.randomUUID().toString()));
                      events.add(Events.event(m, UUID.randomUUID().toString()));
                    }
                    HttpResponse<String> r = ingest(to, events);
                    if (r.statusCode() != 200) {
                      failures.add(r.statusCode() + " " + r.body());
                      return;
                    }
                    for (Object o : new JsonArray(r.body())) {
                      JsonObject a = (JsonObject) o;
                      seqs.computeIfAbsent(
                              a.getString("merchantId"),
                              x -> new java.util.concurrent.ConcurrentSkipListSet<>())
                          .add(a.getLong("seq"));
                    }
                  }));
        }
      }
      for (Future<?> f : sent) {
        f.get();
      }
      pool.shutdown();
      assertThat(failures).isEmpty();

      assertThat(forwarded(b) + forwarded(c) - forwardedBefore)
          .as("every batch went to the writer")
          .isEqualTo(batches);
      assertThat(batches(writer, "committed") - takenBefore)
          .as("parsed where they landed, the writer took them over the commit feed")
          .isEqualTo(batches);
      assertThat(metric(b, "gateway_ingest_events_total{result=\"stored\"}"))
          .as("B committed nothing itself")
          .isEqualTo(storedOnB);
      assertThat(metric(c, "gateway_ingest_events_total{result=\"stored\"}"))
          .as("C committed nothing itself")
          .isEqualTo(storedOnC);
      for (String m : merchants) {
        java.util.NavigableSet<Long> got = seqs.get(m);
        assertThat(got).as(m + ": answered seqs distinct").hasSize(2 * 10 * 8);
        assertThat(got.last() - got.first() + 1).as(m + ": dense").isEqualTo(2 * 10 * 8);
      }

      // A bad request is answered where it lands, and nothing of it reaches the writer.
      String merchant = merchants.get(0);
      double taken = batches(writer, "committed");
      double malformed = batches(writer, "malformed");
      JsonObject good = Events.event(merchant, UUID.randomUUID().toString());
      JsonObject bad = Events.event(merchant, UUID.randomUUID().toString());
      bad.remove("type");
      HttpResponse<String> r = ingest(b, List.of(good, bad));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
      assertThat(new JsonObject(r.body()).getJsonArray("details").encode())
          .as("the problem is named by the node the request landed on")
          .contains("\"index\":1");
      assertThat(batches(writer, "committed")).as("nothing went to the writer").isEqualTo(taken);
      assertThat(batches(writer, "malformed")).isEqualTo(malformed);
      assertThat(ingestRequests(writer))
          .as("nor over HTTP: the writer was sent no ingest request at all")
          .isZero();
      // and the good event alone goes through, once
      HttpResponse<String> again = ingest(b, List.of(good));
      assertThat(again.statusCode()).as(again.body()).isEqualTo(200);
      assertThat(new JsonArray(again.body()).getJsonObject(0).getBoolean("duplicate")).isFalse();
      assertThat(batches(writer, "committed")).isEqualTo(taken + 1);
    } finally {
      for (GatewayProcess n : List.of(writer, b, c)) {
        n.terminate(Duration.ofSeconds(30));
      }
    }
  }

  /**
   * With the commit feed (parsed events over the feed's connection, lost with it when the writer
   * dies) and without it (the body over HTTP, refused by the dead writer's port).
   */
  @ParameterizedTest(name = "commit feed {0}")
  @ValueSource(booleans = {true, false})
  void shouldWriteHereAtOnceWhenTheWriterIsKilled(boolean feed) throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 6);
    Map<String, String> env = Map.of("GATEWAY_INGEST_COMMIT_FEED", Boolean.toString(feed));
    GatewayProcess writer = node("a-" + run, "forward-kill-a.log", env);
    GatewayProcess b = node("b-" + run, "forward-kill-b.log", env);
    try {
      String merchant = "fwd-kill-" + run;
      awaitForwarding("B forwards to the writer", b, merchant);
      if (feed) {
        assertThat(batches(writer, "committed")).as("over the feed").isPositive();
        assertThat(ingestRequests(writer)).as("not over HTTP").isZero();
      } else {
        assertThat(ingestRequests(writer)).as("over HTTP").isPositive();
      }
      String addressKey = "gw:addr:{" + TestGateway.CLUSTER + "}:a-" + run;
      writer.kill();
      // A killed writer leaves its address behind only for its time to live.
      try (var client = io.lettuce.core.RedisClient.create(TestServices.redisUrl());
          var conn = client.connect()) {
        long ttl = conn.sync().pttl(addressKey);
        assertThat(ttl)
            .as("the killed writer's address expires")
            .isPositive()
            .isLessThanOrEqualTo(30_000);
      }
      // B still counts the writer as live (its lease has not expired): the forward is refused
      // and B writes the batch itself, with the next seq.
      double stored = metric(b, "gateway_ingest_events_total{result=\"stored\"}");
      String id = UUID.randomUUID().toString();
      HttpResponse<String> r = ingest(b, List.of(Events.event(merchant, id)));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}"))
          .isGreaterThanOrEqualTo(1);
      assertThat(metric(b, "gateway_ingest_events_total{result=\"stored\"}")).isEqualTo(stored + 1);
      // The same event again: a duplicate with the same seq, whoever answers.
      HttpResponse<String> again = ingest(b, List.of(Events.event(merchant, id)));
      JsonObject first = new JsonArray(r.body()).getJsonObject(0);
      JsonObject second = new JsonArray(again.body()).getJsonObject(0);
      assertThat(second.getBoolean("duplicate")).isTrue();
      assertThat(second.getLong("seq")).isEqualTo(first.getLong("seq"));
    } finally {
      writer.kill();
      forgetKilled("a-" + run);
      b.terminate(Duration.ofSeconds(30));
    }
  }

  /**
   * Removes what a node killed at the end of a test leaves behind, as its expiry would: its lease
   * (8.5 s more at 10 s) and its address (up to 30 s). Left there, the next test's nodes took it
   * for the writer while it lasted ("a-" ids sort first) and forwarded to a dead node until it
   * expired: 3 s of the switch test that ran after this one.
   */
  private static void forgetKilled(String nodeId) {
    String nodes = "gw:nodes:{" + TestGateway.CLUSTER + "}";
    try (var client = io.lettuce.core.RedisClient.create(TestServices.redisUrl());
        var conn = client.connect()) {
      for (String token : conn.sync().zrange(nodes, 0, -1)) {
        if (token.startsWith(nodeId + "/")) {
          conn.sync().zrem(nodes, token);
        }
      }
      conn.sync().del("gw:addr:{" + TestGateway.CLUSTER + "}:" + nodeId);
    }
  }

  @Test
  void shouldWaitForTheWriterThroughAShortStallAndWriteHereAfterALongOne() throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 6);
    // A forward timeout of 8 s (the PostgreSQL client timeout + 2 s), not 17, to keep the test
    // short
    Map<String, String> timeouts =
        Map.of("GATEWAY_PG_QUERY_TIMEOUT_MS", "4000", "GATEWAY_PG_CLIENT_TIMEOUT_MS", "6000");
    GatewayProcess writer = node("a-" + run, "forward-stop-a.log", timeouts);
    GatewayProcess b = node("b-" + run, "forward-stop-b.log", timeouts);
    ExecutorService pool = Executors.newSingleThreadExecutor();
    boolean paused = false;
    try {
      String merchant = "fwd-stop-" + run;
      awaitForwarding("B forwards to the writer", b, merchant);
      double stored = metric(b, "gateway_ingest_events_total{result=\"stored\"}");
      double here = metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}");

      // A short stall: the batch reaches the writer's socket, the writer answers once it runs.
      writer.pause();
      paused = true;
      Future<HttpResponse<String>> during =
          pool.submit(() -> ingest(b, List.of(Events.event(merchant, "short-" + run))));
      // the fault: the writer stalled for 4.5 s, past the 3 s of silence and B's next check of it
      Thread.sleep(4_500);
      writer.resume();
      paused = false;
      HttpResponse<String> r = during.get(60, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(new JsonArray(r.body()).getJsonObject(0).getBoolean("duplicate"))
          .as("answered by the writer, not written again by B")
          .isFalse();
      assertThat(metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}"))
          .isEqualTo(here);
      assertThat(metric(b, "gateway_ingest_events_total{result=\"stored\"}")).isEqualTo(stored);

      // A long stall: B writes the batch itself once the forward timeout is up.
      writer.pause();
      paused = true;
      String id = "long-" + run;
      HttpResponse<String> late = ingest(b, List.of(Events.event(merchant, id)));
      assertThat(late.statusCode()).as(late.body()).isEqualTo(200);
      assertThat(metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}"))
          .isGreaterThan(here);
      assertThat(metric(b, "gateway_ingest_events_total{result=\"stored\"}"))
          .as("B wrote it itself")
          .isEqualTo(stored + 1);
      long seq = new JsonArray(late.body()).getJsonObject(0).getLong("seq");
      writer.resume();
      paused = false;
      // The writer then reads the batch it was sent and commits nothing new: a duplicate. Once B
      // follows it again, the same event through B is answered by the writer with the same seq.
      until(
          "B forwards to the writer again",
          () -> {
            double before = forwarded(b);
            HttpResponse<String> again = ingest(b, List.of(Events.event(merchant, id)));
            JsonObject a = new JsonArray(again.body()).getJsonObject(0);
            assertThat(a.getBoolean("duplicate")).isTrue();
            assertThat(a.getLong("seq")).isEqualTo(seq);
            return forwarded(b) > before;
          });
      String next = UUID.randomUUID().toString();
      JsonObject after =
          new JsonArray(ingest(b, List.of(Events.event(merchant, next))).body()).getJsonObject(0);
      assertThat(after.getLong("seq")).as("the next seq, no gap and no repeat").isEqualTo(seq + 1);
    } finally {
      pool.shutdownNow();
      if (paused) {
        writer.resume();
      }
      writer.terminate(Duration.ofSeconds(30));
      b.terminate(Duration.ofSeconds(30));
    }
  }

  /**
   * A follower that stalls (SIGSTOP) while the writer commits its batch: the writer drops it as
   * silent after 3 s and feeds it no more, but keeps its connection until the batch is answered, so
   * the follower, once it runs again, takes the writer's answer instead of writing the batch again
   * itself (which would tell the caller its new event is a duplicate). The writer's commit is held
   * up by a lock on the merchant's head row, taken here.
   */
  @Test
  void shouldAnswerAFollowerThatStalledWhileTheWriterCommittedItsBatch() throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 6);
    GatewayProcess writer = node("a-" + run, "forward-stall-a.log");
    GatewayProcess b = node("b-" + run, "forward-stall-b.log");
    ExecutorService pool = Executors.newSingleThreadExecutor();
    boolean paused = false;
    try {
      String merchant = "fwd-stall-" + run;
      awaitForwarding("B forwards to the writer", b, merchant);
      double here = metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}");
      double committed = batches(writer, "committed");
      String silentSeries = "gateway_ingest_commit_frames_total{outcome=\"connection_silent\"}";
      double silent = metric(writer, silentSeries);
      var pg = TestServices.migratedPg();
      Future<HttpResponse<String>> during;
      try (java.sql.Connection holder = holdHeadRow(pg, merchant)) {
        during = pool.submit(() -> ingest(b, List.of(Events.event(merchant, "stall-" + run))));
        until("the writer's commit to wait for the head row", () -> waitingForALock(pg));
        b.pause();
        paused = true;
        // the fault: B stalled past the writer's 3 s of silence, dropped within 4.5 s as before
        // (its last word came before the pause, and the writer checks every second), but no
        // longer waited for to the end of the 4.5 s once it has been
        long pausedAt = System.nanoTime();
        while (metric(writer, silentSeries) <= silent
            && System.nanoTime() - pausedAt < 4_500_000_000L) {
          Thread.sleep(100);
        }
        assertThat(metric(writer, silentSeries)).as("the writer dropped B").isGreaterThan(silent);
        holder.commit(); // the writer commits the batch and answers B's connection
      }
      until("the writer to commit the batch", () -> batches(writer, "committed") > committed);
      b.resume();
      paused = false;
      HttpResponse<String> r = during.get(60, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(new JsonArray(r.body()).getJsonObject(0).getBoolean("duplicate")).isFalse();
      assertThat(metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}"))
          .as("B took the writer's answer, written before its connection was closed")
          .isEqualTo(here);
    } finally {
      pool.shutdownNow();
      if (paused) {
        b.resume();
      }
      writer.terminate(Duration.ofSeconds(30));
      b.terminate(Duration.ofSeconds(30));
    }
  }

  /**
   * A writer that is heard but has not answered a batch within the forward timeout is slow, not
   * gone, and may commit the batch yet: the node answers 503 (the outcome unknown, as for a commit
   * not confirmed in time) instead of writing the batch itself. Written here, it waited behind the
   * writer's commit for the head row and then answered the caller that its new event was a
   * duplicate. The writer's commit is held up by a lock on the merchant's head row, taken here; B's
   * forward timeout (5.1 s) is shorter than the writer's own deadline.
   */
  @Test
  void shouldAnswer503AndNotWriteHereWhenTheWriterIsHeardButLate() throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 6);
    GatewayProcess writer = node("a-" + run, "forward-late-a.log");
    GatewayProcess b =
        node(
            "b-" + run,
            "forward-late-b.log",
            Map.of("GATEWAY_PG_QUERY_TIMEOUT_MS", "2000", "GATEWAY_PG_CLIENT_TIMEOUT_MS", "3100"));
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      String merchant = "fwd-late-" + run;
      awaitForwarding("B forwards to the writer", b, merchant);
      double here = metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}");
      var pg = TestServices.migratedPg();
      String id = "late-" + run;
      Future<HttpResponse<String>> during;
      try (java.sql.Connection holder = holdHeadRow(pg, merchant)) {
        during = pool.submit(() -> ingest(b, List.of(Events.event(merchant, id))));
        until("the writer's commit to wait for the head row", () -> waitingForALock(pg));
        // past B's forward timeout: B answered, or its own write of the batch waits as well
        until("B's forward timeout", () -> during.isDone() || locksWaited(pg) >= 2);
        holder.commit(); // the writer commits the batch
      }
      HttpResponse<String> r = during.get(60, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(503);
      assertThat(r.body()).contains("did not answer").contains("same event ids");
      assertThat(metric(b, "gateway_ingest_forwarded_total{outcome=\"timed_out\"}")).isEqualTo(1);
      assertThat(metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}"))
          .as("B did not write it itself")
          .isEqualTo(here);
      // The caller retries with the same id: stored once, by the writer.
      JsonObject again =
          new JsonArray(ingest(b, List.of(Events.event(merchant, id))).body()).getJsonObject(0);
      assertThat(again.getBoolean("duplicate")).isTrue();
      JsonObject next =
          new JsonArray(ingest(b, List.of(Events.event(merchant, "next-" + run))).body())
              .getJsonObject(0);
      assertThat(next.getLong("seq")).isEqualTo(again.getLong("seq") + 1);
    } finally {
      pool.shutdownNow();
      writer.terminate(Duration.ofSeconds(30));
      b.terminate(Duration.ofSeconds(30));
    }
  }

  /**
   * A node with a smaller id joins (a restarted node rejoining) and becomes the writer while a
   * batch of the follower waits for the old writer's commit, held up by a lock on the merchant's
   * head row taken here. The follower keeps the old writer's connection until that batch is
   * answered, so its caller gets the old writer's answer; switching at once would lose the answer,
   * and the follower would write the batch again itself: {@code duplicate: true} for a new event.
   */
  @Test
  void shouldTakeTheOldWritersAnswerWhenANewWriterJoinsWhileABatchWaits() throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 6);
    // B's commit may wait for the lock as long as A takes to start and C to learn its address
    Map<String, String> timeouts =
        Map.of("GATEWAY_PG_QUERY_TIMEOUT_MS", "30000", "GATEWAY_PG_CLIENT_TIMEOUT_MS", "31100");
    GatewayProcess old = node("b-" + run, "forward-switch-b.log", timeouts);
    GatewayProcess f = node("c-" + run, "forward-switch-c.log", timeouts);
    GatewayProcess joined = null;
    ExecutorService pool = Executors.newSingleThreadExecutor();
    try {
      String merchant = "fwd-switch-" + run;
      awaitForwarding("C forwards to B", f, merchant);
      double committed = batches(old, "committed");
      double here = metric(f, "gateway_ingest_forwarded_total{outcome=\"written_here\"}");
      var pg = TestServices.migratedPg();
      Future<HttpResponse<String>> during;
      try (java.sql.Connection holder = holdHeadRow(pg, merchant)) {
        during = pool.submit(() -> ingest(f, List.of(Events.event(merchant, "switch-" + run))));
        until("B's commit to wait for the head row", () -> waitingForALock(pg));
        // read before A starts: A publishes its address and joins before it answers as ready
        double changes = metric(f, "gateway_ingest_writer_changes_total");
        joined = node("a-" + run, "forward-switch-a.log", timeouts);
        // No request goes to C meanwhile (B would hold it behind the locked group): C notes the
        // new writer on its own, on its feed's next round after it learnt A's address.
        until(
            "C to take A for the writer",
            () -> metric(f, "gateway_ingest_writer_changes_total") > changes);
        assertThat(metric(f, "gateway_ingest_feed_batches_waiting"))
            .as("C still waits for B's answer")
            .isEqualTo(1);
        holder.commit(); // B commits the batch and answers C
      }
      HttpResponse<String> r = during.get(60, java.util.concurrent.TimeUnit.SECONDS);
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      assertThat(new JsonArray(r.body()).getJsonObject(0).getBoolean("duplicate"))
          .as("answered by B, which committed it, not written again by C")
          .isFalse();
      assertThat(batches(old, "committed")).isGreaterThan(committed);
      assertThat(metric(f, "gateway_ingest_forwarded_total{outcome=\"written_here\"}"))
          .as("C wrote nothing itself")
          .isEqualTo(here);
      GatewayProcess a = joined;
      until(
          "C to follow A once B answered",
          () -> {
            double before = batches(a, "committed");
            ingest(f, List.of(Events.event(merchant, UUID.randomUUID().toString())));
            return batches(a, "committed") > before;
          });
    } finally {
      pool.shutdownNow();
      if (joined != null) {
        joined.terminate(Duration.ofSeconds(30));
      }
      old.terminate(Duration.ofSeconds(30));
      f.terminate(Duration.ofSeconds(30));
    }
  }

  /**
   * The writer's own refusals reach the caller through the node where the request landed, as on one
   * node: 503 when the writer's queue is full, and 503 when PostgreSQL did not confirm the writer's
   * commit in time. The node does not write such a batch itself: a full queue is the cluster's
   * backpressure, and a commit of unknown outcome is the caller's to retry with the same ids. The
   * writer's PostgreSQL goes silent through a proxy that stops forwarding.
   */
  @Test
  void shouldAnswer503WhenTheWritersQueueIsFullOrItsCommitTimesOutAndNotWriteThemHere()
      throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 6);
    // a queue of one request of at most 10 events; commits answered within 6.1 s, and B's forward
    // timeout 2 s later; PostgreSQL cancels a statement after 5 s, which leaves the test that long
    // to silence it once the commit waits for the lock
    Map<String, String> limits =
        Map.of(
            "GATEWAY_INGEST_MAX_EVENTS", "10",
            "GATEWAY_INGEST_MAX_QUEUED_EVENTS", "10",
            "GATEWAY_PG_QUERY_TIMEOUT_MS", "5000",
            "GATEWAY_PG_CLIENT_TIMEOUT_MS", "6100");
    java.net.URI pg = java.net.URI.create(TestServices.pgUrl());
    try (io.orderpush.gateway.testing.TcpProxy proxy =
        io.orderpush.gateway.testing.TcpProxy.start(
            pg.getHost(), pg.getPort() == -1 ? 5432 : pg.getPort())) {
      Map<String, String> writerEnv = new java.util.HashMap<>(limits);
      writerEnv.put(
          "GATEWAY_PG_URL",
          pg.getScheme()
              + "://"
              + pg.getRawUserInfo()
              + "@127.0.0.1:"
              + proxy.port()
              + pg.getRawPath());
      GatewayProcess writer = node("a-" + run, "forward-busy-a.log", writerEnv);
      GatewayProcess b = node("b-" + run, "forward-busy-b.log", limits);
      ExecutorService pool = Executors.newSingleThreadExecutor();
      try {
        String merchant = "fwd-busy-" + run;
        awaitForwarding("B forwards to the writer", b, merchant);
        double here = metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}");
        double stored = metric(b, "gateway_ingest_events_total{result=\"stored\"}");

        List<JsonObject> full = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
          full.add(Events.event(merchant, "full-" + i + "-" + run));
        }
        List<JsonObject> more = List.of(Events.event(merchant, "more-" + run));
        var direct = TestServices.migratedPg();
        long started;
        Future<HttpResponse<String>> stuck;
        try (java.sql.Connection holder = holdHeadRow(direct, merchant)) {
          // The writer's commit waits for the merchant's head row inside its transaction, and
          // then its PostgreSQL goes silent: neither the lock's release nor the statement's
          // timeout reaches it.
          started = System.nanoTime();
          stuck = pool.submit(() -> ingest(b, full));
          until("the writer's commit to wait for the head row", () -> waitingForALock(direct));
          proxy.blackhole();
          HttpResponse<String> overloaded = ingest(b, more);
          assertThat(overloaded.statusCode()).as(overloaded.body()).isEqualTo(503);
          assertThat(overloaded.body()).contains("queue full");
          assertThat(batches(writer, "overloaded")).isEqualTo(1);
          holder.rollback();
        }

        HttpResponse<String> timedOut = stuck.get(60, java.util.concurrent.TimeUnit.SECONDS);
        long tookMs = (System.nanoTime() - started) / 1_000_000;
        assertThat(timedOut.statusCode()).as(timedOut.body()).isEqualTo(503);
        assertThat(timedOut.body()).contains("did not confirm the commit");
        assertThat(batches(writer, "timed_out")).isEqualTo(1);
        assertThat(tookMs)
            .as("answered by the writer, before B's own forward timeout")
            .isLessThan(8_100);
        assertThat(metric(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}"))
            .as("B wrote neither itself")
            .isEqualTo(here);
        assertThat(metric(b, "gateway_ingest_events_total{result=\"stored\"}")).isEqualTo(stored);

        // The caller retries both with the same ids once PostgreSQL answers again: stored once.
        proxy.forward();
        until("the retry to be answered 200", () -> ingest(b, full).statusCode() == 200);
        assertThat(ingest(b, more).statusCode()).isEqualTo(200);
        java.util.Set<Long> seqs = new java.util.TreeSet<>();
        for (List<JsonObject> sent : List.of(full, more)) {
          JsonArray answers = new JsonArray(ingest(b, sent).body());
          for (int i = 0; i < answers.size(); i++) {
            assertThat(answers.getJsonObject(i).getBoolean("duplicate")).isTrue();
            seqs.add(answers.getJsonObject(i).getLong("seq"));
          }
        }
        assertThat(seqs).as("11 events, each stored once, dense").hasSize(11);
        assertThat(java.util.Collections.max(seqs) - java.util.Collections.min(seqs)).isEqualTo(10);
      } finally {
        pool.shutdownNow();
        proxy.forward();
        writer.terminate(Duration.ofSeconds(30));
        b.terminate(Duration.ofSeconds(30));
      }
    }
  }

  /**
   * A transaction holding the lock on {@code merchant}'s head row, as a commit does, until it is
   * committed or rolled back: a commit of that merchant waits for it meanwhile.
   */
  private static java.sql.Connection holdHeadRow(
      io.orderpush.persistence.pg.PgSettings pg, String merchant) throws java.sql.SQLException {
    java.sql.Connection holder =
        java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
    holder.setAutoCommit(false);
    try (var lock =
        holder.prepareStatement(
            "SELECT head_seq FROM merchants WHERE merchant_id = ? FOR UPDATE")) {
      lock.setString(1, merchant);
      lock.executeQuery().close();
    } catch (java.sql.SQLException e) {
      holder.close();
      throw e;
    }
    return holder;
  }

  private static boolean waitingForALock(io.orderpush.persistence.pg.PgSettings pg) {
    return locksWaited(pg) > 0;
  }

  /** Statements on the merchants' head rows waiting for a lock. */
  private static long locksWaited(io.orderpush.persistence.pg.PgSettings pg) {
    try (java.sql.Connection c =
            java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        var s = c.createStatement();
        var rs =
            s.executeQuery(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND wait_event_type = 'Lock' AND query ILIKE '%merchants%'")) {
      rs.next();
      return rs.getLong(1);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private GatewayProcess node(String nodeId, String log) throws Exception {
    return node(nodeId, log, Map.of());
  }

  private GatewayProcess node(String nodeId, String log, Map<String, String> env) throws Exception {
    Map<String, String> all = new java.util.HashMap<>(env);
    all.put("GATEWAY_NODE_ID", nodeId);
    all.put("GATEWAY_NODE_LEASE_MS", "10000");
    return GatewayProcess.start(TestGateway.freePort(), log, all);
  }

  /** Until {@code node} forwards a request of {@code merchant} to the writer it follows. */
  private void awaitForwarding(String what, GatewayProcess node, String merchant)
      throws InterruptedException {
    until(
        what,
        () -> {
          ingest(node, List.of(Events.event(merchant, UUID.randomUUID().toString())));
          return forwarded(node) > 0;
        });
  }

  private HttpResponse<String> ingest(GatewayProcess to, List<JsonObject> events) {
    return TestGateway.send(
        to.port, http, "POST", "/v1/events", TestGateway.INGEST_TOKEN, Events.batch(events));
  }

  /** Ingest requests a node answered over HTTP, whatever their status. */
  private double ingestRequests(GatewayProcess n) {
    String text = TestGateway.send(n.port, http, "GET", "/metrics", null, null).body();
    double sum = 0;
    for (String line : text.split("\n")) {
      if (line.startsWith("gateway_http_requests_seconds_count{")
          && line.contains("route=\"ingest\"")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return sum;
  }

  private double batches(GatewayProcess writer, String outcome) {
    return metric(writer, "gateway_ingest_feed_batches_total{outcome=\"" + outcome + "\"}");
  }

  private double forwarded(GatewayProcess n) {
    return metric(n, "gateway_ingest_forwarded_total{outcome=\"forwarded\"}");
  }

  private double metric(GatewayProcess n, String series) {
    String text = TestGateway.send(n.port, http, "GET", "/metrics", null, null).body();
    String prefix = series.substring(0, series.length() - 1);
    for (String line : text.split("\n")) {
      if (!line.startsWith("#") && line.startsWith(prefix)) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    throw new AssertionError("no series " + series + " on node " + n.port);
  }

  private static void until(String what, BooleanSupplier done) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within " + WAIT + ": " + what);
      }
      Thread.sleep(200);
    }
  }
}
