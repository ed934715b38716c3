package io.orderpush.gateway.client;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.client.Channel;
import io.orderpush.client.ConsumerListener;
import io.orderpush.client.ConsumerOptions;
import io.orderpush.client.GapException;
import io.orderpush.client.JdbcAppliedStore;
import io.orderpush.client.MemoryAppliedStore;
import io.orderpush.client.OrderPushClient;
import io.orderpush.client.StreamConsumer;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.testing.TcpProxy;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.sql.Connection;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The client library's {@link StreamConsumer} against a real gateway, with the ISV's database the
 * test PostgreSQL: exactly-once through connection cuts, a consumer killed mid-batch and restarted,
 * handler failures, a consumer group that loses a member, and a gap that is reported, not skipped.
 */
class ClientConsumerIT {

  static final Duration WAIT = Duration.ofSeconds(90);
  static final ConsumerOptions FAST =
      ConsumerOptions.builder()
          .parallelism(4)
          .initialBackoff(Duration.ofMillis(50))
          .maxBackoff(Duration.ofMillis(500))
          .retryBackoff(Duration.ofMillis(50))
          .shutdownTimeout(Duration.ofSeconds(20))
          .build();

  static TestGateway gw;
  final List<String> apps = new ArrayList<>();
  final List<AutoCloseable> closing = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of());
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
    NoStuckChannels.check(gw);
    TestApps.deleteRows(gw, apps);
  }

  @Test
  void shouldApplyEveryEventExactlyOnceThroughCutsCrashesAndHandlerFailures() throws Exception {
    List<String> merchants = merchants(4);
    TestApps.Created app = app(merchants);
    IsvDatabase db = closeLater(new IsvDatabase("once"));
    JdbcAppliedStore store = db.store();
    TcpProxy proxy = closeLater(TcpProxy.start("127.0.0.1", gw.port));
    URI viaProxy = URI.create("http://127.0.0.1:" + proxy.port());

    AtomicInteger calls = new AtomicInteger();
    CompletableFuture<Void> crashed = new CompletableFuture<>();
    List<StreamConsumer<Connection>> consumers = new CopyOnWriteArrayList<>();
    Recorder first = new Recorder("first");
    io.orderpush.client.BatchHandler<Connection> handler =
        (batch, tx) -> {
          int call = calls.incrementAndGet();
          String who = "c" + consumers.size();
          if (call == 4) {
            // the connection is cut while the batch is applied: it commits, but is never acked
            db.insert(tx, batch, who);
            proxy.cut();
            return;
          }
          if (call == 9) {
            // the consumer dies half way through a batch: nothing of it commits
            db.insert(tx, batch.merchantId(), batch.events().subList(0, 1), who);
            consumers.get(consumers.size() - 1).abort();
            crashed.complete(null);
            throw new IllegalStateException("killed mid-batch");
          }
          if (call == 15) {
            db.insert(tx, batch, who);
            throw new IllegalStateException("the ISV's handler failed once");
          }
          db.insert(tx, batch, who);
        };
    consumers.add(StreamConsumer.start(viaProxy, app.token(), store, handler, FAST, first));

    Map<String, Integer> expected = new LinkedHashMap<>();
    merchants.forEach(m -> expected.put(m, 0));
    for (int round = 0; round < 20; round++) {
      for (String m : merchants) {
        ingest(m, expected.get(m), 25);
        expected.merge(m, 25, Integer::sum);
      }
      if (round == 12) {
        // The crash comes with the 9th batch. If the first connection came back late (its cut
        // is at the 4th), what it missed came as one batch a merchant and fewer than 9 so far:
        // more events, a few at a time, until it has crashed.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!crashed.isDone()) {
          assertThat(System.nanoTime())
              .as("the consumer crashed at its 9th batch")
              .isLessThan(deadline);
          for (String m : merchants) {
            ingest(m, expected.get(m), 2);
            expected.merge(m, 2, Integer::sum);
          }
          try {
            crashed.get(200, TimeUnit.MILLISECONDS);
          } catch (java.util.concurrent.TimeoutException notYet) {
            // more events then
          }
        }
        consumers.add(
            StreamConsumer.start(
                viaProxy, app.token(), store, handler, FAST, new Recorder("restarted")));
      }
      Thread.sleep(20); // spreads the events over many batches; correctness does not depend on it
    }
    assertThat(crashed).isDone();
    OrderPushClient client = new OrderPushClient(gwUri(), app.token());
    Await.until(
        "every event applied and acked",
        WAIT,
        () -> db.rows() >= 2000 && lagZero(client),
        () -> "rows " + db.rows() + ", calls " + calls.get() + ", " + first);
    db.assertExactlyOnce(expected);
    assertThat(calls.get()).isGreaterThan(15);
    assertThat(first.disconnects).anyMatch(d -> !d.contains("aborted"));
    consumers.forEach(StreamConsumer::close);
  }

  @Test
  void shouldSplitMerchantsBetweenTwoConsumersAndSurviveOneLeaving() throws Exception {
    List<String> merchants = merchants(6);
    TestApps.Created app = app(merchants);
    IsvDatabase db = closeLater(new IsvDatabase("group"));
    JdbcAppliedStore store = db.store();
    Recorder ra = new Recorder("a");
    Recorder rb = new Recorder("b");
    StreamConsumer<Connection> a =
        StreamConsumer.start(
            gwUri(), app.token(), store, (batch, tx) -> db.insert(tx, batch, "a"), FAST, ra);
    StreamConsumer<Connection> b =
        closeLater(
            StreamConsumer.start(
                gwUri(), app.token(), store, (batch, tx) -> db.insert(tx, batch, "b"), FAST, rb));
    Await.until(
        "the merchants split 3 and 3",
        WAIT,
        () -> a.assigned().size() == 3 && b.assigned().size() == 3,
        () -> "a " + a.assigned() + ", b " + b.assigned());
    Set<String> union = new HashSet<>(a.assigned());
    union.addAll(b.assigned());
    assertThat(union).containsExactlyInAnyOrderElementsOf(merchants);

    Map<String, Integer> expected = new LinkedHashMap<>();
    merchants.forEach(m -> expected.put(m, 0));
    for (int round = 0; round < 10; round++) {
      for (String m : merchants) {
        ingest(m, expected.get(m), 20);
        expected.merge(m, 20, Integer::sum);
      }
      if (round == 4) {
        Await.until("a applied some", WAIT, () -> db.rowsBy("a") > 0);
        a.close();
      }
    }
    OrderPushClient client = new OrderPushClient(gwUri(), app.token());
    Await.until(
        "b holds every merchant and everything is applied and acked",
        WAIT,
        () -> b.assigned().size() == 6 && db.rows() >= 1200 && lagZero(client),
        () -> "rows " + db.rows() + ", b " + b.assigned() + "; " + ra + "; " + rb);
    db.assertExactlyOnce(expected);
    assertThat(db.rowsBy("a")).isPositive();
    assertThat(db.rowsBy("b")).isPositive();
    assertThat(ra.batchFailures).isEmpty();
    assertThat(rb.batchFailures).isEmpty();
  }

  @Test
  void shouldReportAGapAfterTheCursorSkipsForwardAndGoOnOnceTheStoreAcceptsIt() throws Exception {
    String merchant = merchants(1).get(0);
    TestApps.Created app = app(List.of(merchant));
    OrderPushClient client = new OrderPushClient(gwUri(), app.token());
    MemoryAppliedStore store = new MemoryAppliedStore();
    Set<Long> applied = new ConcurrentSkipListSet<>();
    io.orderpush.client.BatchHandler<Void> handler =
        (batch, tx) -> batch.events().forEach(e -> assertThat(applied.add(e.seq())).isTrue());
    StreamConsumer<Void> c1 =
        StreamConsumer.start(gwUri(), app.token(), store, handler, FAST, new Recorder("c1"));
    ingest(merchant, 0, 10);
    Await.until("10 applied and acked", WAIT, () -> applied.size() == 10 && lagZero(client));
    c1.close();

    ingest(merchant, 10, 10);
    assertThat(client.setCursor(merchant, 15).cursor()).isEqualTo(15);
    Recorder r2 = new Recorder("c2");
    StreamConsumer<Void> c2 =
        closeLater(StreamConsumer.start(gwUri(), app.token(), store, handler, FAST, r2));
    Await.until("the gap reported", WAIT, () -> !r2.batchFailures.isEmpty(), r2::toString);
    GapException gap = (GapException) r2.batchFailures.get(0);
    assertThat(gap.lastApplied()).isEqualTo(10);
    assertThat(gap.seq()).isEqualTo(16);
    assertThat(gap.prevSeq()).isEqualTo(15);
    assertThat(applied).hasSize(10);
    assertThat(cursor(client, merchant)).as("nothing acked past the gap").isEqualTo(15);

    store.skipTo(merchant, 15);
    Await.until(
        "16..20 applied and acked after the skip",
        WAIT,
        () -> applied.size() == 15 && lagZero(client),
        r2::toString);
    assertThat(applied).doesNotContain(11L, 12L, 13L, 14L, 15L).contains(16L, 20L);
    assertThat(c2.assigned()).containsExactly(merchant);
  }

  @Test
  void shouldAssembleMessagesOfManyFramesAndDropTheConnectionOverTheCap() throws Exception {
    String merchant = merchants(1).get(0);
    TestApps.Created big = app(List.of(merchant));
    TestApps.Created capped = app(List.of(merchant));
    String blob = "x".repeat(60_000);
    List<JsonObject> events = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      JsonObject e = Events.event(merchant, merchant + "-big" + i);
      e.put("data", new JsonObject().put("blob", blob).put("i", i));
      events.add(e);
    }
    var r = gw.ingest(Events.batch(events));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);

    Set<Long> applied = new ConcurrentSkipListSet<>();
    AtomicInteger largest = new AtomicInteger();
    StreamConsumer<Void> c =
        closeLater(
            StreamConsumer.start(
                gwUri(),
                big.token(),
                new MemoryAppliedStore(),
                (batch, tx) -> {
                  largest.accumulateAndGet(batch.events().size(), Math::max);
                  for (var e : batch.events()) {
                    assertThat(e.data().get("blob").asText()).isEqualTo(blob);
                    applied.add(e.seq());
                  }
                },
                FAST,
                new Recorder("big")));
    OrderPushClient client = new OrderPushClient(gwUri(), big.token());
    Await.until("30 large events applied", WAIT, () -> applied.size() == 30 && lagZero(client));
    // 1.8 MB of events: more than one message, each far more than one JDK frame part
    assertThat(largest.get()).isBetween(2, 29);

    Recorder cappedRecorder = new Recorder("capped");
    Set<Long> cappedApplied = new ConcurrentSkipListSet<>();
    closeLater(
        StreamConsumer.start(
            gwUri(),
            capped.token(),
            new MemoryAppliedStore(),
            (batch, tx) -> batch.events().forEach(e -> cappedApplied.add(e.seq())),
            ConsumerOptions.builder()
                .maxMessageChars(64 * 1024)
                .initialBackoff(Duration.ofMillis(50))
                .maxBackoff(Duration.ofMillis(200))
                .build(),
            cappedRecorder));
    Await.until(
        "the oversized message refused",
        WAIT,
        () -> cappedRecorder.disconnects.stream().anyMatch(d -> d.contains("maxMessageChars")),
        cappedRecorder::toString);
    assertThat(cappedApplied).isEmpty();
    assertThat(cursor(new OrderPushClient(gwUri(), capped.token()), merchant)).isZero();
  }

  @Test
  void shouldApplyEveryEventExactlyOnceWhenTheConsumerProcessIsKilledAndRestarted()
      throws Exception {
    List<String> merchants = merchants(3);
    TestApps.Created app = app(merchants);
    IsvDatabase db = closeLater(new IsvDatabase("kill"));
    Map<String, Integer> expected = new LinkedHashMap<>();
    merchants.forEach(m -> expected.put(m, 0));
    Process probe = probe(app, db);
    int kills = 0;
    for (int round = 0; round < 12; round++) {
      for (String m : merchants) {
        ingest(m, expected.get(m), 50);
        expected.merge(m, 50, Integer::sum);
      }
      if (round % 4 == 3) {
        long before = db.rows();
        Await.until("the probe applies more", WAIT, () -> db.rows() > before);
        probe.destroyForcibly(); // SIGKILL, most likely inside a batch's transaction
        assertThat(probe.waitFor(30, TimeUnit.SECONDS)).isTrue();
        kills++;
        probe = probe(app, db);
      }
    }
    OrderPushClient client = new OrderPushClient(gwUri(), app.token());
    Await.until(
        "every event applied and acked",
        WAIT,
        () -> db.rows() >= 1800 && lagZero(client),
        () -> "rows " + db.rows());
    probe.destroyForcibly();
    probe.waitFor(30, TimeUnit.SECONDS);
    db.assertExactlyOnce(expected);
    assertThat(kills).isEqualTo(3);
  }

  /** Starts {@link ConsumerProbe} in its own JVM, closed after the test whatever happens. */
  private Process probe(TestApps.Created app, IsvDatabase db) throws java.io.IOException {
    io.orderpush.persistence.pg.PgSettings pg = TestServices.pg();
    List<String> command =
        List.of(
            new java.io.File(System.getProperty("java.home"), "bin/java").getPath(),
            "-Xmx128m",
            "-cp",
            System.getProperty("java.class.path"),
            ConsumerProbe.class.getName(),
            gwUri().toString(),
            app.token(),
            "jdbc:postgresql://" + pg.host() + ":" + pg.port() + "/" + pg.database(),
            pg.user(),
            pg.password(),
            db.orders,
            db.applied);
    Process p =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(
                ProcessBuilder.Redirect.appendTo(new java.io.File("target", "consumer-probe.log")))
            .start();
    closing.add(
        0,
        () -> {
          p.destroyForcibly();
          p.waitFor(30, TimeUnit.SECONDS);
        });
    return p;
  }

  @Test
  void shouldDropAndNeverAckTheWorkOfAMerchantThatMovedAway() throws Exception {
    List<String> merchants = merchants(2);
    TestApps.Created app = app(merchants);
    MemoryAppliedStore store = new MemoryAppliedStore(); // shared, as one database would be
    Map<String, List<Long>> applied = new java.util.concurrent.ConcurrentHashMap<>();
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    AtomicInteger blocked = new AtomicInteger();
    Recorder ra = new Recorder("a");
    StreamConsumer<Void> a =
        closeLater(
            StreamConsumer.start(
                gwUri(),
                app.token(),
                store,
                (batch, tx) -> {
                  blocked.incrementAndGet();
                  assertThat(release.await(60, TimeUnit.SECONDS)).isTrue();
                  batch.events().forEach(e -> record(applied, batch.merchantId(), e.seq()));
                },
                FAST,
                ra));
    Await.until("a holds both", WAIT, () -> a.assigned().size() == 2);
    for (String m : merchants) {
      ingest(m, 0, 5);
    }
    Await.until("a is inside a batch of each merchant", WAIT, () -> blocked.get() == 2);

    Recorder rb = new Recorder("b");
    StreamConsumer<Void> b =
        closeLater(
            StreamConsumer.start(
                gwUri(),
                app.token(),
                store,
                (batch, tx) ->
                    batch.events().forEach(e -> record(applied, batch.merchantId(), e.seq())),
                FAST,
                rb));
    Await.until(
        "one merchant moved to b",
        WAIT,
        () -> ra.log.stream().anyMatch(l -> l.startsWith("unassigned ")),
        ra::toString);
    String moved =
        ra.log.stream()
            .filter(l -> l.startsWith("unassigned "))
            .findFirst()
            .orElseThrow()
            .substring("unassigned ".length());
    release.countDown();

    OrderPushClient client = new OrderPushClient(gwUri(), app.token());
    Await.until(
        "everything applied and acked",
        WAIT,
        () -> lagZero(client) && applied.values().stream().mapToInt(List::size).sum() == 10,
        () -> applied + "; " + ra + "; " + rb);
    merchants.forEach(m -> assertThat(applied.get(m)).as(m).containsExactly(1L, 2L, 3L, 4L, 5L));
    int unassignedAt = ra.log.indexOf("unassigned " + moved);
    assertThat(ra.log.subList(unassignedAt, ra.log.size()))
        .as("a acked nothing of " + moved + " after it moved away")
        .noneMatch(l -> l.startsWith("acked " + moved + " "));
    assertThat(rb.log).anyMatch(l -> l.startsWith("acked " + moved + " "));
    assertThat(ra.serverErrors).noneMatch(e -> e.startsWith("not_assigned"));
    assertThat(b.assigned()).containsExactly(moved);
  }

  @Test
  void shouldNameARefusedUpgradeAndWaitItsRetryAfterBeforeConnectingAgain() throws Exception {
    // its own gateway: past one failure, this address is refused for a minute
    try (TestGateway limited =
        TestGateway.start(
            Map.of("GATEWAY_AUTH_MAX_FAILURES", "1", "GATEWAY_AUTH_FAILURE_WINDOW_MS", "60000"))) {
      List<String> whys = new CopyOnWriteArrayList<>();
      List<Duration> waits = new CopyOnWriteArrayList<>();
      StreamConsumer<Void> c =
          StreamConsumer.start(
              URI.create("http://127.0.0.1:" + limited.port),
              "gwa_not-an-app-token",
              new MemoryAppliedStore(),
              (batch, tx) -> {},
              FAST,
              new ConsumerListener() {
                @Override
                public void disconnected(String why, Duration reconnectIn) {
                  whys.add(why);
                  waits.add(reconnectIn);
                }
              });
      closing.add(c);
      Await.until("two refusals", WAIT, () -> whys.size() >= 2);
      assertThat(whys.get(0)).contains("HTTP 401 unauthorized");
      assertThat(waits.get(0)).isLessThanOrEqualTo(FAST.maxBackoff());
      assertThat(whys.get(1)).contains("HTTP 429 too_many_auth_failures");
      // the address's window has about a minute left: the consumer waits that, not its backoff
      assertThat(waits.get(1)).isBetween(Duration.ofSeconds(50), Duration.ofSeconds(60));
      c.close();
    }
  }

  @Test
  void shouldAckTheBatchesThatFinishedWhenClosed() throws Exception {
    String merchant = merchants(1).get(0);
    TestApps.Created app = app(List.of(merchant));
    MemoryAppliedStore store = new MemoryAppliedStore();
    java.util.concurrent.CountDownLatch inside = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    StreamConsumer<Void> c =
        StreamConsumer.start(
            gwUri(),
            app.token(),
            store,
            (batch, tx) -> {
              inside.countDown();
              assertThat(release.await(60, TimeUnit.SECONDS)).isTrue();
            },
            FAST,
            new Recorder("c"));
    Await.until("assigned", WAIT, () -> c.assigned().size() == 1);
    ingest(merchant, 0, 5);
    assertThat(inside.await(60, TimeUnit.SECONDS)).isTrue();
    ingest(merchant, 5, 5); // queued behind the running batch: dropped by close, not applied
    CompletableFuture<Void> closed = CompletableFuture.runAsync(c::close);
    Thread.sleep(200); // close is waiting for the running batch; not needed for correctness
    assertThat(closed).isNotDone();
    release.countDown();
    closed.get(60, TimeUnit.SECONDS);
    long last = store.lastApplied(merchant).orElseThrow();
    assertThat(last).isBetween(1L, 9L);
    OrderPushClient client = new OrderPushClient(gwUri(), app.token());
    Await.until(
        "the cursor at the last applied seq",
        WAIT,
        () -> cursor(client, merchant) == last,
        () -> "cursor " + cursor(client, merchant) + ", last applied " + last);
  }

  private static void record(Map<String, List<Long>> applied, String merchant, long seq) {
    applied.computeIfAbsent(merchant, k -> new CopyOnWriteArrayList<>()).add(seq);
  }

  @Test
  void shouldApplyMerchantsInParallelUpToTheLimitEachInSeqOrder() throws Exception {
    List<String> merchants = merchants(6);
    TestApps.Created app = app(merchants);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    java.util.concurrent.CyclicBarrier pair = new java.util.concurrent.CyclicBarrier(2);
    AtomicInteger paired = new AtomicInteger();
    Map<String, List<Long>> applied = new java.util.concurrent.ConcurrentHashMap<>();
    StreamConsumer<Void> c =
        closeLater(
            StreamConsumer.start(
                gwUri(),
                app.token(),
                new MemoryAppliedStore(),
                (batch, tx) -> {
                  most.accumulateAndGet(running.incrementAndGet(), Math::max);
                  try {
                    if (paired.get() == 0) {
                      // two batches of different merchants meet here: they run at the same time
                      pair.await(30, TimeUnit.SECONDS);
                      paired.incrementAndGet();
                    }
                    Thread.sleep(5);
                    batch.events().forEach(e -> record(applied, batch.merchantId(), e.seq()));
                  } finally {
                    running.decrementAndGet();
                  }
                },
                ConsumerOptions.builder().parallelism(2).build(),
                new Recorder("c")));
    Await.until("assigned", WAIT, () -> c.assigned().size() == 6);
    for (int round = 0; round < 5; round++) {
      for (String m : merchants) {
        ingest(m, round * 10, 10);
      }
    }
    OrderPushClient client = new OrderPushClient(gwUri(), app.token());
    Await.until(
        "all applied",
        WAIT,
        () -> applied.values().stream().mapToInt(List::size).sum() == 300 && lagZero(client));
    assertThat(paired.get()).isPositive();
    assertThat(most.get()).isEqualTo(2);
    List<Long> want = new ArrayList<>();
    for (long s = 1; s <= 50; s++) {
      want.add(s);
    }
    merchants.forEach(m -> assertThat(applied.get(m)).as(m).isEqualTo(want));
  }

  // --- helpers

  private <C extends AutoCloseable> C closeLater(C c) {
    closing.add(0, c);
    return c;
  }

  static URI gwUri() {
    return URI.create("http://127.0.0.1:" + gw.port);
  }

  static List<String> merchants(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(TestServices.uniqueMerchant("cl"));
    }
    return out;
  }

  TestApps.Created app(List<String> merchants) {
    TestApps.Created app = TestApps.create(gw, "client-it", null);
    apps.add(app.appId());
    for (String m : merchants) {
      TestApps.grant(gw, m, app.appId(), "{\"start\":\"earliest\"}");
    }
    return app;
  }

  static void ingest(String merchant, int from, int n) {
    ingestTo(gw, merchant, from, n);
  }

  static void ingestTo(TestGateway gw, String merchant, int from, int n) {
    List<JsonObject> events = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      events.add(Events.event(merchant, merchant + "-e" + (from + i)));
    }
    var r = gw.ingest(Events.batch(events));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  static boolean lagZero(OrderPushClient client) {
    Iterator<Channel> it = client.channels();
    boolean any = false;
    while (it.hasNext()) {
      Channel c = it.next();
      any = true;
      if (c.lag() != 0) {
        return false;
      }
    }
    return any;
  }

  static long cursor(OrderPushClient client, String merchant) {
    Iterator<Channel> it = client.channels();
    while (it.hasNext()) {
      Channel c = it.next();
      if (c.merchantId().equals(merchant)) {
        return c.cursor();
      }
    }
    throw new AssertionError("no channel " + merchant);
  }
}
