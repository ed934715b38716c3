package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.delivery.cursor.CommitOutcome;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.orderpush.gateway.testing.RawHttp;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class StreamIT {

  static final Duration WAIT = Duration.ofSeconds(60);

  /** A generous bound on a round of events arriving at all; not a measure of speed. */
  static final Duration ROUND = Duration.ofSeconds(10);

  static TestGateway gw;
  StreamFixture fx;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of());
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @BeforeEach
  void fixture() {
    fx = new StreamFixture(gw);
  }

  @AfterEach
  void cleanUp() {
    fx.close();
  }

  static List<Long> oneTo(long n) {
    return LongStream.rangeClosed(1, n).boxed().toList();
  }

  @Test
  void shouldDeliverEveryMerchantDenseAndInOrderAndMoveCursorsToTheHeads() {
    TestApp app = fx.app("websocket");
    List<String> merchants = fx.merchants("e2e", 50);
    merchants.forEach(m -> fx.grant(app, m));
    StreamClient consumer = fx.connect(app);
    consumer.autoAck = true;
    fx.until("all 50 merchants assigned", WAIT, () -> consumer.assigned().size() == 50);

    fx.ingest(merchants, 10_000, 200);

    fx.until(
        "10,000 events", WAIT, () -> consumer.total() == 10_000, () -> "got " + consumer.total());
    for (String m : merchants) {
      assertThat(consumer.received().getOrDefault(m, List.of()))
          .as(m)
          .containsExactlyElementsOf(oneTo(fx.head(m)));
    }
    fx.until(
        "cursors at the heads",
        WAIT,
        () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == fx.head(m)));
    assertThat(consumer.hello.getInteger("window")).isEqualTo(1000);
    assertThat(consumer.errors).isEmpty();
    consumer.close();
  }

  @Test
  void shouldRebalanceABurstOfGrantsFewerTimesThanThereAreGrants() throws Exception {
    TestApp app = fx.app("websocket");
    List<StreamClient> group = List.of(fx.connect(app), fx.connect(app));
    fx.until("both joined", WAIT, () -> group.stream().allMatch(c -> c.hello != null));
    String rebalances = "gateway_stream_rebalances_total";
    double before = io.orderpush.gateway.Scrape.value(gw, rebalances);
    List<String> merchants = fx.merchants("burst", 48);
    java.util.concurrent.ExecutorService granting =
        java.util.concurrent.Executors.newFixedThreadPool(8);
    try {
      List<java.util.concurrent.Future<?>> grants =
          merchants.stream()
              .<java.util.concurrent.Future<?>>map(m -> granting.submit(() -> fx.grant(app, m)))
              .toList();
      for (java.util.concurrent.Future<?> g : grants) {
        g.get();
      }
    } finally {
      granting.shutdown();
    }
    fx.until(
        "every merchant assigned, a fair share each",
        WAIT,
        () -> group.stream().allMatch(c -> c.assigned().size() == 24),
        () -> sizes(group));
    // each rebalance weighs every channel against every connection: one per grant would be
    // 48 of them
    assertThat(io.orderpush.gateway.Scrape.value(gw, rebalances) - before)
        .as("rebalances for 48 grants made 8 at a time")
        .isLessThan(merchants.size());
  }

  @Test
  void shouldServeEachMerchantByExactlyOneConnectionAndMoveThemWhenOneCloses() {
    TestApp app = fx.app("websocket");
    List<String> merchants = fx.merchants("group", 30);
    merchants.forEach(m -> fx.grant(app, m));
    List<StreamClient> group = List.of(fx.connect(app), fx.connect(app), fx.connect(app));
    group.forEach(c -> c.autoAck = true);
    fx.until(
        "a fair share for each of three",
        WAIT,
        () -> group.stream().allMatch(c -> c.assigned().size() == 10),
        () -> sizes(group));
    Set<String> union = new HashSet<>();
    group.forEach(c -> union.addAll(c.assigned()));
    assertThat(union).containsExactlyInAnyOrderElementsOf(merchants);

    fx.ingest(merchants, 1500, 100);
    fx.until(
        "first 1500 events",
        WAIT,
        () -> group.stream().mapToInt(StreamClient::total).sum() == 1500);
    for (StreamClient c : group) {
      assertThat(c.received().keySet()).isSubsetOf(c.assigned());
    }
    fx.until(
        "cursors at the heads",
        WAIT,
        () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == fx.head(m)));

    StreamClient leaving = group.get(0);
    Set<String> moved = Set.copyOf(leaving.assigned());
    leaving.close();
    List<StreamClient> rest = group.subList(1, 3);
    fx.until(
        "the leaver's merchants taken over",
        WAIT,
        () -> rest.stream().allMatch(c -> c.assigned().size() == 15),
        () -> sizes(rest));
    assertThat(rest.get(0).assigned()).doesNotContainAnyElementsOf(rest.get(1).assigned());

    fx.ingest(merchants, 1500, 100);
    fx.until(
        "the second 1500 events",
        WAIT,
        () -> rest.stream().mapToInt(StreamClient::total).sum() == 3000 - leaving.total());
    // Moved merchants continue after their cursor: together, old and new owner saw 1..head once.
    for (String m : moved) {
      StreamClient heir = rest.get(0).assigned().contains(m) ? rest.get(0) : rest.get(1);
      List<Long> all = new java.util.ArrayList<>(leaving.received().getOrDefault(m, List.of()));
      all.addAll(heir.received().getOrDefault(m, List.of()));
      assertThat(all).as(m).containsExactlyElementsOf(oneTo(fx.head(m)));
    }
    rest.forEach(StreamClient::close);
  }

  @Test
  void shouldRefuseAnAckFromAConnectionThatLostTheChannel() {
    TestApp app = fx.app("websocket");
    List<String> merchants = fx.merchants("fence", 2);
    merchants.forEach(m -> fx.grant(app, m));
    StreamClient first = fx.connect(app);
    fx.until("both assigned to the first", WAIT, () -> first.assigned().size() == 2);
    fx.ingest(merchants, 200, 100);
    fx.until("200 events", WAIT, () -> first.total() == 200);

    StreamClient second = fx.connect(app);
    fx.until(
        "one merchant moved",
        WAIT,
        () -> second.assigned().size() == 1 && first.assigned().size() == 1);
    String moved = second.assigned().iterator().next();
    long before = fx.cursor(app, moved);
    first.ack(moved, fx.head(moved));
    fx.until(
        "the ack refused",
        WAIT,
        () -> first.errors.stream().anyMatch(e -> "not_assigned".equals(e.getString("code"))));
    assertThat(fx.cursor(app, moved)).isEqualTo(before);
    // The new owner starts after the cursor, i.e. from the beginning here.
    fx.until(
        "redelivered to the new owner",
        WAIT,
        () -> second.count(moved) == fx.head(moved),
        () -> "head " + fx.head(moved) + ", got " + runs(second.received().get(moved)));
    assertThat(second.received().get(moved)).containsExactlyElementsOf(oneTo(fx.head(moved)));
    first.close();
    second.close();
  }

  @Test
  void shouldNeverLetAStaleEpochMoveTheCursor() {
    TestApp app = fx.app("websocket");
    String m = fx.merchants("epoch", 1).get(0);
    var ctx = fx.vertx.getOrCreateContext();
    var old =
        StreamFixture.join(fx.cursors.claim(ctx, app.id(), m, 0, "zombie", 1, "n1/1/a", null));
    var refused =
        StreamFixture.join(fx.cursors.claim(ctx, app.id(), m, 0, "owner", 1, "n2/2/b", null));
    assertThat(refused.isRefused()).as("held by a node not known dead").isTrue();
    assertThat(refused.holder()).isEqualTo("n1/1/a");
    var current =
        StreamFixture.join(fx.cursors.claim(ctx, app.id(), m, 0, "owner", 1, "n2/2/b", "n1/1/a"));
    assertThat(current.isRefused()).as("taken over from a dead node").isFalse();
    assertThat(current.epoch()).isGreaterThan(old.epoch());
    assertThat(StreamFixture.join(fx.cursors.release(ctx, app.id(), m, "n1/1/a", old.epoch(), 9)))
        .as("a dead node cannot release what it no longer holds")
        .isFalse();
    assertThat(StreamFixture.join(fx.cursors.commit(ctx, app.id(), m, old.epoch(), 10)))
        .isEqualTo(CommitOutcome.FENCED);
    assertThat(StreamFixture.join(fx.cursors.commit(ctx, app.id(), m, current.epoch(), 5)))
        .isEqualTo(CommitOutcome.ADVANCED);
    assertThat(StreamFixture.join(fx.cursors.commit(ctx, app.id(), m, current.epoch(), 3)))
        .isEqualTo(CommitOutcome.UNCHANGED);
    assertThat(fx.cursor(app, m)).isEqualTo(5);
  }

  @Test
  void shouldSendExactlyAWindowToAConsumerThatNeverAcksWithoutSlowingAnotherApp() {
    TestApp stuck = fx.app("websocket");
    TestApp other = fx.app("websocket");
    List<String> merchants = fx.merchants("window", 2);
    merchants.forEach(
        m -> {
          fx.grant(stuck, m);
          fx.grant(other, m);
        });
    StreamClient acker = fx.connect(other);
    acker.autoAck = true;
    fx.until("the other app assigned", WAIT, () -> acker.assigned().size() == 2);
    // Baseline, no consumer stuck: each round reaches the other app, acked, before the next.
    deliverRoundsInLockstep(other, acker, merchants, 2);

    StreamClient never = fx.connect(stuck);
    fx.until("the stuck consumer assigned", WAIT, () -> never.assigned().size() == 2);
    fx.ingest(merchants, 2500, 250);
    fx.until(
        "a full window per channel of the stuck consumer",
        WAIT,
        () -> merchants.stream().allMatch(m -> never.count(m) == 1000),
        () -> counts(never, merchants));
    fx.until(
        "the other app everything so far",
        ROUND,
        () -> merchants.stream().allMatch(m -> acker.count(m) == fx.head(m)));
    // The same fact as in the baseline, now while the stuck consumer's windows are full and its
    // backlog grows with every round: it must not hold up the other app's reads, sends or acks.
    deliverRoundsInLockstep(other, acker, merchants, 5);
    for (String m : merchants) {
      assertThat(fx.head(m)).as("a backlog behind the full window of %s", m).isGreaterThan(1000);
      assertThat(never.received().get(m)).as(m).containsExactlyElementsOf(oneTo(1000));
      assertThat(acker.received().get(m)).as(m).containsExactlyElementsOf(oneTo(fx.head(m)));
    }
    assertThat(never.closed).isFalse();
    // One ack opens the window by as much as it acknowledges.
    never.ack(merchants.get(0), 10);
    fx.until("ten more", WAIT, () -> never.count(merchants.get(0)) == 1010);
    never.close();
    acker.close();
  }

  /**
   * Ingests {@code rounds} rounds of 200 events; each must reach {@code consumer}, and its acks
   * move the cursors to the heads, before the next is ingested. The bound is generous: it is about
   * arriving at all, not about speed.
   */
  void deliverRoundsInLockstep(
      TestApp app, StreamClient consumer, List<String> merchants, int rounds) {
    for (int r = 1; r <= rounds; r++) {
      fx.ingest(merchants, 200, 100);
      fx.until(
          "round " + r + " delivered",
          ROUND,
          () -> merchants.stream().allMatch(m -> consumer.count(m) == fx.head(m)),
          () -> counts(consumer, merchants));
      fx.until(
          "round " + r + " acked",
          ROUND,
          () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == fx.head(m)));
    }
  }

  @Test
  void shouldRefuseAWrongTokenAndCallbackAppsBeforeTheUpgrade() {
    Throwable wrong = catchJoin(() -> StreamClient.open(fx.vertx, gw.port, "gwa_not-a-real-token"));
    assertThat(wrong).isInstanceOf(UpgradeRejectedException.class);
    assertThat(((UpgradeRejectedException) wrong).getStatus()).isEqualTo(401);
    Throwable none = catchJoin(() -> StreamClient.open(fx.vertx, gw.port, null));
    assertThat(((UpgradeRejectedException) none).getStatus()).isEqualTo(401);
    Throwable admin =
        catchJoin(() -> StreamClient.open(fx.vertx, gw.port, TestGateway.ADMIN_TOKEN));
    assertThat(((UpgradeRejectedException) admin).getStatus()).isEqualTo(401);
    TestApp callback = fx.app("callback");
    Throwable mode = catchJoin(() -> fx.connect(callback));
    assertThat(((UpgradeRejectedException) mode).getStatus()).isEqualTo(403);
  }

  @Test
  void shouldRefuseAnUpgradeWithTheApisJsonErrorAndGoOnServingTheConnection() throws Exception {
    try (var ws =
        RawHttp.WebSocketConnection.open(
            "127.0.0.1", gw.port, StreamHandler.PATH, "gwa_not-a-real-token", 10_000)) {
      assertThat(ws.handshake.status()).isEqualTo(401);
      assertThat(ws.handshake.header("WWW-Authenticate")).isEqualTo("Bearer realm=\"stream\"");
      assertThat(new JsonObject(ws.handshake.body()).getString("error")).isEqualTo("unauthorized");
      // not upgraded: the same connection takes an ordinary request next
      ws.socket
          .getOutputStream()
          .write(
              "GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                  .getBytes(StandardCharsets.US_ASCII));
      assertThat(RawHttp.readResponse(ws.socket.getInputStream(), true).status()).isEqualTo(200);
    }
    TestApp callback = fx.app("callback");
    try (var ws =
        RawHttp.WebSocketConnection.open(
            "127.0.0.1", gw.port, StreamHandler.PATH, callback.token(), 10_000)) {
      assertThat(ws.handshake.status()).isEqualTo(403);
      assertThat(new JsonObject(ws.handshake.body()).getString("error"))
          .isEqualTo("not_a_websocket_app");
    }
    try (var ws =
        RawHttp.WebSocketConnection.open(
            "127.0.0.1", gw.port, "/v1/no-such-stream", callback.token(), 10_000)) {
      assertThat(ws.handshake.status()).isEqualTo(404);
      assertThat(new JsonObject(ws.handshake.body()).getString("error")).isEqualTo("not_found");
    }
    // a valid token but another protocol version: 426 naming the one served, as JSON too
    TestApp app = fx.app("websocket");
    try (var ws =
        RawHttp.WebSocketConnection.open(
            "127.0.0.1", gw.port, StreamHandler.PATH, app.token(), "8", 10_000)) {
      RawHttp.Response oldVersion = ws.handshake;
      assertThat(oldVersion.status()).isEqualTo(426);
      assertThat(oldVersion.header("Sec-WebSocket-Version")).isEqualTo("13");
      assertThat(new JsonObject(oldVersion.body()).getString("error"))
          .isEqualTo("upgrade_required");
    }
  }

  @Test
  void shouldCountAcceptedUpgradesInTheRoutesTimer() {
    double before = upgradesAccepted();
    TestApp app = fx.app("websocket");
    StreamClient c = fx.connect(app);
    // the 101 is counted once accepted, though its answer never ends
    fx.until("the upgrade counted", WAIT, () -> upgradesAccepted() >= before + 1);
    c.close();
  }

  /** {@code gateway_http_requests_seconds_count} of the stream route's 1xx answers. */
  double upgradesAccepted() {
    return gw.send("GET", "/metrics", null, null)
        .body()
        .lines()
        .filter(
            l ->
                l.startsWith("gateway_http_requests_seconds_count{")
                    && l.contains("route=\"stream\"")
                    && l.contains("status=\"1xx\""))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }

  @Test
  void shouldDeliverOnlyGrantedMerchantsAndStopAtOnceOnRevoke() {
    TestApp app = fx.app("websocket");
    List<String> merchants = fx.merchants("iso", 3);
    String granted = merchants.get(0);
    String revoked = merchants.get(1);
    String never = merchants.get(2);
    fx.grant(app, granted);
    fx.grant(app, revoked);
    StreamClient c = fx.connect(app);
    c.autoAck = true;
    // The merchant to be revoked fills its window and keeps a backlog behind it: events committed
    // before the revoke that the revoke must cut off all the same.
    c.holdAcks.add(revoked);
    fx.until("assigned", WAIT, () -> c.assigned().size() == 2);
    fx.ingest(List.of(revoked), 1200, 200);
    fx.ingest(merchants, 300, 100);
    fx.until(
        "the granted merchant's events and a full window of the other",
        WAIT,
        () -> c.count(granted) == fx.head(granted) && c.count(revoked) == 1000,
        () -> counts(c, merchants));
    assertThat(c.received()).doesNotContainKey(never);

    fx.revoke(app, revoked);
    // From the 204 on, nothing of the revoked merchant may leave: neither the backlog this ack
    // would release were the channel still live, nor events ingested from now on.
    c.ack(revoked, 1000);
    fx.ingest(List.of(revoked), 50, 50);
    fx.ingest(List.of(granted), 50, 50);
    // Grant changes take effect within 1 s; 5 s is only a generous bound on "promptly".
    fx.until("unassigned", Duration.ofSeconds(5), () -> !c.assigned().contains(revoked));
    // The barrier: the granted merchant's events ingested after the revoked one's arrive.
    fx.ingest(List.of(granted), 50, 50);
    fx.until(
        "later events of the granted merchant", WAIT, () -> c.count(granted) == fx.head(granted));
    assertThat(fx.head(revoked)).as("backlog and later events of %s", revoked).isGreaterThan(1250);
    assertThat(c.received().get(revoked))
        .as("nothing of %s after the revoke", revoked)
        .containsExactlyElementsOf(oneTo(1000));
    assertThat(c.received()).doesNotContainKey(never);
    // The ack reached a connection that no longer had the channel.
    fx.until(
        "the ack after the revoke refused as not assigned",
        WAIT,
        () -> c.errors.stream().anyMatch(e -> "not_assigned".equals(e.getString("code"))));
    assertThat(c.errors)
        .filteredOn(e -> "not_assigned".equals(e.getString("code")))
        .extracting(e -> e.getString("merchantId"))
        .as("the refusal names the merchant, so a client can match it to its unassigned")
        .containsOnly(revoked);
    assertThat(c.faults()).as("an ack that crossed the unassigned is not a fault").isEmpty();
    assertThat(c.closed).isFalse();

    fx.grant(app, never);
    fx.until("a new grant assigned at once", WAIT, () -> c.assigned().contains(never));
    fx.until("its history (start=earliest)", WAIT, () -> c.count(never) == fx.head(never));
    c.close();
  }

  /**
   * A revoked grant's channel leaves Redis two days past retention (7 days by default), when every
   * event it sent is gone, unless the merchant grants the app again first: the new grant's claim
   * keeps the hash, with its count of restarts raised (new webhook-ids for what it sends again).
   */
  @Test
  void shouldLetARevokedChannelExpireFromRedisUnlessGrantedAgain() {
    TestApp app = fx.app("websocket");
    List<String> merchants = fx.merchants("expire", 2);
    String gone = merchants.get(0);
    String back = merchants.get(1);
    merchants.forEach(m -> fx.grant(app, m));
    StreamClient c = fx.connect(app);
    c.autoAck = true;
    fx.ingest(merchants, 20, 20);
    fx.until(
        "both acked",
        WAIT,
        () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == fx.head(m)));
    assertThat(fx.pttl(app, gone)).as("a granted channel does not expire").isEqualTo(-1);
    long firstGrant = Long.parseLong(fx.field(app, back, "grant"));

    merchants.forEach(m -> fx.revoke(app, m));
    long nineDays = Duration.ofDays(9).toMillis();
    fx.until(
        "both revoked channels to expire",
        WAIT,
        () -> merchants.stream().allMatch(m -> fx.pttl(app, m) > 0));
    for (String m : merchants) {
      assertThat(fx.pttl(app, m)).isBetween(nineDays - 60_000, nineDays);
    }

    fx.grant(app, back);
    fx.until("granted again and claimed", WAIT, () -> "1".equals(fx.field(app, back, "rewinds")));
    assertThat(fx.pttl(app, back)).as("the new grant's channel").isEqualTo(-1);
    assertThat(fx.pttl(app, gone)).as("the one still revoked").isGreaterThan(0);
    // The revoke's expiry arriving after the new grant's claim (a slow node) leaves it alone.
    assertThat(
            StreamFixture.join(
                fx.cursors.expireRevoked(
                    fx.vertx.getOrCreateContext(), app.id(), back, firstGrant, Duration.ofDays(9))))
        .isFalse();
    assertThat(fx.pttl(app, back)).as("after the late expiry").isEqualTo(-1);
    fx.until("its history again", WAIT, () -> c.count(back) == 2 * fx.head(back));
    c.close();

    // A channel whose cursor the app set before any consumer came, then revoked, expires too.
    TestApp idle = fx.app("websocket");
    fx.grant(idle, gone);
    assertThat(
            fx.gw
                .send("PUT", "/v1/channels/" + gone + "/cursor", idle.token(), "{\"seq\": 5}")
                .statusCode())
        .isEqualTo(200);
    // no claim came, but the rewind marked the hash with its grant, so a first claim keeps the
    // cursor
    assertThat(fx.field(idle, gone, "grant")).as("the rewind's grant").isNotNull();
    assertThat(fx.field(idle, gone, "node")).as("claimed by no node").isNull();
    fx.revoke(idle, gone);
    fx.until("the never-claimed channel to expire", WAIT, () -> fx.pttl(idle, gone) > 0);
  }

  /**
   * Granted (A), claimed, revoked, granted again (B) and revoked again before anything claimed B:
   * the hash still names A, older than B, and must expire all the same; a hash a newer grant's
   * claim wrote must not.
   */
  @Test
  void shouldExpireARevokedChannelLastClaimedByAnOlderGrantButNotOneANewerClaimOwns() {
    TestApp app = fx.app("websocket");
    String m = fx.merchants("stale", 1).get(0);
    String key = "gw:ch:{" + app.id() + ":" + m + "}";
    var ctx = fx.vertx.getOrCreateContext();
    StreamFixture.join(
        fx.redis.call(ctx, c -> c.hset(key, Map.of("cursor", "5", "grant", "1000"))));
    assertThat(
            StreamFixture.join(
                fx.cursors.expireRevoked(ctx, app.id(), m, 2000, Duration.ofDays(9))))
        .as("B's revoke, the hash still A's")
        .isTrue();
    assertThat(fx.pttl(app, m)).isPositive();
    StreamFixture.join(fx.redis.call(ctx, c -> c.persist(key)));
    StreamFixture.join(fx.redis.call(ctx, c -> c.hset(key, "grant", "3000")));
    assertThat(
            StreamFixture.join(
                fx.cursors.expireRevoked(ctx, app.id(), m, 2000, Duration.ofDays(9))))
        .as("a late expiry of B after C's claim")
        .isFalse();
    assertThat(fx.pttl(app, m)).isEqualTo(-1);
    StreamFixture.join(fx.redis.call(ctx, c -> c.del(key)));
  }

  @Test
  void shouldCloseAConnectionThatAcksBeyondWhatItWasSent() {
    TestApp app = fx.app("websocket");
    String m = fx.merchants("proto", 1).get(0);
    fx.grant(app, m);
    StreamClient c = fx.connect(app);
    fx.until("assigned", WAIT, () -> c.assigned().contains(m));
    fx.ingest(List.of(m), 10, 10);
    fx.until("10 events", WAIT, () -> c.count(m) == 10);
    c.ack(m, 11);
    fx.until("closed", WAIT, () -> c.closed);
    assertThat(c.errors)
        .extracting(e -> e.getString("code"))
        .containsExactly("ack_beyond_delivered");
    assertThat(fx.cursor(app, m)).isZero();
  }

  static String counts(StreamClient c, List<String> merchants) {
    return merchants.stream().map(m -> m + "=" + c.count(m)).toList().toString();
  }

  /** Seqs as runs, e.g. [1-100, 51-60], so a timeout says what did arrive. */
  static String runs(List<Long> seqs) {
    if (seqs == null || seqs.isEmpty()) {
      return "[]";
    }
    List<String> runs = new java.util.ArrayList<>();
    long start = seqs.get(0);
    long prev = start;
    for (long s : seqs.subList(1, seqs.size())) {
      if (s != prev + 1) {
        runs.add(start == prev ? "" + start : start + "-" + prev);
        start = s;
      }
      prev = s;
    }
    runs.add(start == prev ? "" + start : start + "-" + prev);
    return runs.toString();
  }

  static String sizes(List<StreamClient> clients) {
    return clients.stream().map(c -> Integer.toString(c.assigned().size())).toList().toString();
  }

  static Throwable catchJoin(Runnable r) {
    try {
      r.run();
      return null;
    } catch (CompletionException e) {
      return e.getCause();
    }
  }

  /**
   * {@code events} messages are written as UTF-8 frames: one event of about 60 KB of CJK text goes
   * in one frame, a batch of four of them (about 240 KB) as a message Vert.x splits into frames;
   * both arrive whole, in order, with every character.
   */
  @Test
  void shouldDeliverLargeCjkEventsWholeInOneFrameOrSplitAcrossFrames() {
    TestApp app = fx.app("websocket");
    String merchant = fx.merchants("large", 1).get(0);
    fx.grant(app, merchant);
    Map<String, io.vertx.core.json.JsonObject> arrived =
        new java.util.concurrent.ConcurrentHashMap<>();
    StreamClient consumer = CommitFeedIT.consumer(fx, app, gw.port, List.of(merchant), arrived);
    String text = "订单收货地址浙江省杭州市西湖区".repeat(1300); // about 58 KB in UTF-8
    java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
    List<String> ids = new java.util.ArrayList<>();
    for (int batch = 0; batch < 2; batch++) {
      List<io.vertx.core.json.JsonObject> events = new java.util.ArrayList<>();
      for (int i = 0; i < (batch == 0 ? 1 : 4); i++) {
        String id = java.util.UUID.randomUUID().toString();
        ids.add(id);
        events.add(
            io.orderpush.gateway.Events.event(merchant, id)
                .put("data", new io.vertx.core.json.JsonObject().put("note", text + i)));
      }
      var r =
          TestGateway.send(
              gw.port,
              http,
              "POST",
              "/v1/events",
              TestGateway.INGEST_TOKEN,
              io.orderpush.gateway.Events.batch(events));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      fx.until("batch " + batch + " delivered", WAIT, () -> arrived.keySet().containsAll(ids));
    }
    for (int i = 0; i < ids.size(); i++) {
      io.vertx.core.json.JsonObject e = arrived.get(ids.get(i));
      assertThat(e.getLong("seq")).isEqualTo(i + 1);
      assertThat(e.getJsonObject("data").getString("note")).isEqualTo(text + (i == 0 ? 0 : i - 1));
    }
    consumer.close();
  }
}
