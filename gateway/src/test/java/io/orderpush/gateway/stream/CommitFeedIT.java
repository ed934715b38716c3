package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.delivery.cluster.CommitFrames;
import io.orderpush.delivery.cluster.ForwardedBatches;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.GatewayProcess;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.ingest.EventParser;
import io.orderpush.gateway.ingest.FeedSigner;
import io.orderpush.gateway.testing.TcpProxy;
import io.orderpush.persistence.events.EventJson;
import io.orderpush.persistence.events.LoggedEvent;
import io.orderpush.persistence.events.NewEvent;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The writer node feeds its committed events to the other nodes ({@code CommitFeed}): a consumer on
 * a follower gets events ingested through the writer from the follower's memory, masked as its
 * grant says, with no head notice and no log read. Both reconciles run every 10 minutes here, so
 * nothing else could carry the events within the waits.
 */
class CommitFeedIT {

  static final Duration ROUND = Duration.ofSeconds(30);
  static final String PERSONAL = "张三 Zhang San";
  static final String FOLLOWERS = "gateway_ingest_commit_followers";
  static final String FRAMES = "gateway_ingest_commit_frames_total{outcome=\"received\"}";
  static final String NOTICES = "gateway_delivery_head_notices_total{outcome=\"received\"}";

  /** One merchant granted to a new WebSocket app, and a consumer of it on one node. */
  record Watched(String merchant, Map<String, JsonObject> arrived, StreamClient client) {}

  static Watched watchOne(StreamFixture fx, String prefix, int port) {
    StreamFixture.TestApp app = fx.app("websocket");
    String merchant = fx.merchants(prefix, 1).get(0);
    fx.grant(app, merchant);
    Map<String, JsonObject> arrived = new ConcurrentHashMap<>();
    return new Watched(merchant, arrived, consumer(fx, app, port, List.of(merchant), arrived));
  }

  static Map<String, String> env(String nodeId) {
    Map<String, String> env = new HashMap<>();
    env.put("GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "600000");
    env.put("GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "600000");
    env.put("GATEWAY_NODE_ID", nodeId);
    return env;
  }

  static double metric(int port, String series) {
    HttpResponse<String> r =
        TestGateway.send(port, HttpClient.newHttpClient(), "GET", "/metrics", null, null);
    for (String line : r.body().split("\n")) {
      if (line.startsWith(series + " ")) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    throw new AssertionError("no series " + series);
  }

  /** A consumer of the app on {@code port}, acking everything, once it holds every merchant. */
  static StreamClient consumer(
      StreamFixture fx,
      StreamFixture.TestApp app,
      int port,
      List<String> merchants,
      Map<String, JsonObject> arrived) {
    StreamClient c =
        fx.connect(
            app,
            port,
            (m, events) ->
                events.forEach(
                    e -> arrived.put(((JsonObject) e).getString("eventId"), (JsonObject) e)),
            m -> {});
    c.autoAck = true;
    fx.until("assigned", ROUND, () -> c.assigned().containsAll(merchants));
    return c;
  }

  /** Ingests one event through {@code port}. */
  static void send(HttpClient http, int port, JsonObject event) {
    HttpResponse<String> r =
        TestGateway.send(
            port,
            http,
            "POST",
            "/v1/events",
            TestGateway.INGEST_TOKEN,
            Events.batch(List.of(event)));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  @Test
  void shouldDeliverWhatTheWriterCommitsFromAFollowersMemoryMaskedAndWithoutHeadNotices()
      throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 6);
    // B has the smaller id: it is the writer, and A follows it
    GatewayProcess b =
        GatewayProcess.start(TestGateway.freePort(), "commit-feed-b.log", env("feed-a-" + suffix));
    try (TestGateway a = TestGateway.start(env("feed-b-" + suffix));
        StreamFixture fx = new StreamFixture(a, TestServices.redis())) {
      StreamFixture.TestApp app = fx.app("websocket");
      List<String> merchants = fx.merchants("feed", 5);
      merchants.forEach(m -> fx.grant(app, m));
      Map<String, JsonObject> arrived = new ConcurrentHashMap<>();
      StreamClient c = consumer(fx, app, a.port, merchants, arrived);
      fx.until(
          "A follows B's commits",
          ROUND,
          () -> metric(b.port, "gateway_ingest_commit_followers") == 1);
      String notices = "gateway_delivery_head_notices_total{outcome=\"received\"}";
      String frames = "gateway_ingest_commit_frames_total{outcome=\"received\"}";
      double noticesBefore = Scrape.value(a, notices);
      double framesBefore = Scrape.value(a, frames);
      double tailHitsBefore = Scrape.value(a, "gateway_delivery_tail_hits_total");

      HttpClient http = HttpClient.newHttpClient();
      List<String> ids = new ArrayList<>();
      for (String merchant : merchants) {
        String eventId = UUID.randomUUID().toString();
        ids.add(eventId);
        JsonObject event = Events.event(merchant, eventId);
        event.put("data", new JsonObject().put("buyer", new JsonObject().put("name", PERSONAL)));
        send(http, b.port, event);
        fx.until(
            "an event committed on B delivered by A", ROUND, () -> arrived.containsKey(eventId));
      }

      for (String id : ids) {
        String name =
            arrived.get(id).getJsonObject("data").getJsonObject("buyer").getString("name");
        assertThat(name).as("masked for an app without pii").isNotEqualTo(PERSONAL).isNotEmpty();
      }
      // counted once the engine has taken the frame in, which may be after it delivered from it
      fx.until("5 frames counted on A", ROUND, () -> Scrape.value(a, frames) >= framesBefore + 5);
      assertThat(Scrape.value(a, notices)).as("head notices A received").isEqualTo(noticesBefore);
      assertThat(Scrape.value(a, "gateway_delivery_tail_hits_total"))
          .as("batches A sent from memory")
          .isGreaterThanOrEqualTo(tailHitsBefore + 5);
      c.close();
    } finally {
      b.terminate(Duration.ofSeconds(30));
    }
  }

  @Test
  void shouldFallBackToHeadNoticesWhileTheFollowersConnectionIsSilentAndFollowAgainAfter()
      throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 6);
    int bPort = TestGateway.freePort();
    // A reaches B (the writer, the smaller id) through a proxy that can go silent
    try (TcpProxy proxy = TcpProxy.start("127.0.0.1", bPort)) {
      Map<String, String> bEnv = env("feed-a-" + suffix);
      bEnv.put("GATEWAY_NODE_ADVERTISE_URL", "http://127.0.0.1:" + proxy.port());
      GatewayProcess b = GatewayProcess.start(bPort, "commit-feed-silent-b.log", bEnv);
      try (TestGateway a = TestGateway.start(env("feed-b-" + suffix));
          StreamFixture fx = new StreamFixture(a, TestServices.redis())) {
        Watched w = watchOne(fx, "silent", a.port);
        fx.until("A follows B", ROUND, () -> metric(b.port, FOLLOWERS) == 1);
        HttpClient http = HttpClient.newHttpClient();

        ingest(http, b, w.merchant(), w.arrived(), fx, "fed");
        double noticesBefore = Scrape.value(a, NOTICES);

        proxy.blackhole();
        fx.until("B no longer feeds the silent A", ROUND, () -> metric(b.port, FOLLOWERS) == 0);
        assertThat(
                metric(b.port, "gateway_ingest_commit_frames_total{outcome=\"connection_silent\"}"))
            .isGreaterThanOrEqualTo(1);
        ingest(http, b, w.merchant(), w.arrived(), fx, "while A's connection is silent");
        assertThat(Scrape.value(a, NOTICES))
            .as("carried by a head notice")
            .isGreaterThan(noticesBefore);

        proxy.forward();
        fx.until("A follows B again", ROUND, () -> metric(b.port, FOLLOWERS) == 1);
        double framesBefore = Scrape.value(a, FRAMES);
        ingest(http, b, w.merchant(), w.arrived(), fx, "fed again");
        assertThat(Scrape.value(a, FRAMES)).isGreaterThan(framesBefore);
        w.client().close();
      } finally {
        // A's first connection to B went black and stays open through the proxy: B's graceful
        // stop waited its whole shutdown grace (2 s) for it. Reset with the others first.
        proxy.cut();
        b.terminate(Duration.ofSeconds(30));
      }
    }
  }

  @Test
  void shouldNotFeedANodeWhoseMaskingRulesDifferAndStillDeliverThroughIt() throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 6);
    Map<String, String> bEnv = env("feed-a-" + suffix);
    // B (the writer) masks one path fewer: its masked renderings are not A's to send
    bEnv.put("GATEWAY_MASKING_PATHS", "buyer.nick,buyer.phone");
    GatewayProcess b =
        GatewayProcess.start(TestGateway.freePort(), "commit-feed-masks-b.log", bEnv);
    try (TestGateway a = TestGateway.start(env("feed-b-" + suffix));
        StreamFixture fx = new StreamFixture(a, TestServices.redis())) {
      Watched w = watchOne(fx, "masks", a.port);
      String masksDiffer = "gateway_ingest_commit_frames_total{outcome=\"follower_masks_differ\"}";
      fx.until("B refused A as a follower", ROUND, () -> metric(b.port, masksDiffer) >= 1);
      assertThat(metric(b.port, FOLLOWERS)).isZero();
      String eventId = UUID.randomUUID().toString();
      JsonObject event = Events.event(w.merchant(), eventId);
      event.put("data", new JsonObject().put("buyer", new JsonObject().put("name", PERSONAL)));
      send(HttpClient.newHttpClient(), b.port, event);
      fx.until("delivered by A", ROUND, () -> w.arrived().containsKey(eventId));
      String name =
          w.arrived().get(eventId).getJsonObject("data").getJsonObject("buyer").getString("name");
      assertThat(name).as("masked by A's rules, which B's lack").isNotEqualTo(PERSONAL);
      w.client().close();
    } finally {
      b.terminate(Duration.ofSeconds(30));
    }
  }

  @Test
  void shouldFollowTheNextWriterWhenTheWriterIsKilled() throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 6);
    Map<String, String> fast = new HashMap<>();
    fast.put("GATEWAY_NODE_LEASE_MS", "3000");
    // ids in writer order: B writes first, then A; C follows whichever writes
    Map<String, String> bEnv = env("feed-a-" + suffix);
    bEnv.putAll(fast);
    Map<String, String> cEnv = env("feed-c-" + suffix);
    cEnv.putAll(fast);
    Map<String, String> aEnv = env("feed-b-" + suffix);
    aEnv.putAll(fast);
    GatewayProcess b = GatewayProcess.start(TestGateway.freePort(), "commit-feed-kill-b.log", bEnv);
    GatewayProcess c = GatewayProcess.start(TestGateway.freePort(), "commit-feed-kill-c.log", cEnv);
    try (TestGateway a = TestGateway.start(aEnv);
        StreamFixture fx = new StreamFixture(a, TestServices.redis())) {
      // the consumer on C, the node that follows both writers in turn
      Watched w = watchOne(fx, "kill", c.port);
      fx.until("A and C follow B", ROUND, () -> metric(b.port, FOLLOWERS) == 2);
      HttpClient http = HttpClient.newHttpClient();

      String first = UUID.randomUUID().toString();
      send(http, a.port, w.merchant(), first);
      fx.until("delivered on C while B writes", ROUND, () -> w.arrived().containsKey(first));

      b.kill();
      fx.until("C follows A once B's lease is gone", ROUND, () -> Scrape.value(a, FOLLOWERS) == 1);
      double framesBefore = metric(c.port, FRAMES);
      String second = UUID.randomUUID().toString();
      send(http, a.port, w.merchant(), second);
      fx.until("delivered on C after B died", ROUND, () -> w.arrived().containsKey(second));
      assertThat(metric(c.port, FRAMES)).as("fed by A").isGreaterThan(framesBefore);
      w.client().close();
    } finally {
      b.kill();
      c.terminate(Duration.ofSeconds(30));
    }
  }

  static void send(HttpClient http, int port, String merchant, String eventId) {
    send(http, port, Events.event(merchant, eventId));
  }

  static void ingest(
      HttpClient http,
      GatewayProcess b,
      String merchant,
      Map<String, JsonObject> arrived,
      StreamFixture fx,
      String when) {
    String eventId = UUID.randomUUID().toString();
    send(http, b.port, merchant, eventId);
    fx.until(
        "an event committed on B delivered by A " + when,
        ROUND,
        () -> arrived.containsKey(eventId));
  }

  @Test
  void shouldRefuseAFollowerThatCannotProveItIsANodeOfTheCluster() throws Exception {
    try (TestGateway a = TestGateway.start(Map.of())) {
      URI uri = URI.create("ws://127.0.0.1:" + a.port + "/internal/v1/commits");
      long now = System.currentTimeMillis();
      List<Map<String, String>> attempts =
          List.of(
              Map.of(),
              Map.of("X-Orderpush-Node", "intruder", "X-Orderpush-Node-Time", "" + now),
              Map.of(
                  "X-Orderpush-Node", "intruder",
                  "X-Orderpush-Node-Time", "" + now,
                  "Authorization", "Node AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
              Map.of(
                  "X-Orderpush-Node", "intruder",
                  "X-Orderpush-Node-Time", "" + now,
                  "Authorization", "Bearer " + TestGateway.ADMIN_TOKEN));
      for (Map<String, String> headers : attempts) {
        WebSocket.Builder builder = HttpClient.newHttpClient().newWebSocketBuilder();
        headers.forEach(builder::header);
        assertThatThrownBy(
                () ->
                    builder.buildAsync(uri, new WebSocket.Listener() {}).get(10, TimeUnit.SECONDS))
            .as("upgrade with %s", headers.keySet())
            .hasCauseInstanceOf(WebSocketHandshakeException.class)
            .satisfies(
                e ->
                    assertThat(
                            ((WebSocketHandshakeException) e.getCause()).getResponse().statusCode())
                        .isEqualTo(401));
      }
      assertThat(
              Scrape.value(a, "gateway_ingest_commit_frames_total{outcome=\"follower_refused\"}"))
          .isEqualTo(attempts.size());
      assertThat(Scrape.value(a, "gateway_ingest_commit_followers")).isZero();
    }
  }

  @Test
  void shouldTakeEachSignedUpgradeOnceAndProveItselfToTheFollower() throws Exception {
    String writer = "feed-w-" + UUID.randomUUID().toString().substring(0, 6);
    try (TestGateway a = TestGateway.start(env(writer))) {
      URI uri = URI.create("ws://127.0.0.1:" + a.port + "/internal/v1/commits");
      FeedSigner node = new FeedSigner(new byte[32], "feed-f");
      String nonce = node.nonce();
      String url = "http://127.0.0.1:" + a.port;
      Map<String, String> headers = node.upgrade(writer, url, System.currentTimeMillis(), nonce);
      CompletableFuture<String> first = new CompletableFuture<>();
      WebSocket ws = upgrade(uri, headers, firstText(first, true));
      assertThat(node.proves(first.get(10, TimeUnit.SECONDS), writer, url, nonce))
          .as("the writer's first message proves it holds the key, for this nonce")
          .isTrue();
      ws.abort();

      assertUpgradeRefused(uri, headers, 401, "the same upgrade again");
      assertUpgradeRefused(
          uri,
          node.upgrade("feed-other", url, System.currentTimeMillis(), node.nonce()),
          401,
          "an upgrade signed for another node");
      assertUpgradeRefused(
          uri,
          node.upgrade(writer, "http://127.0.0.1:1", System.currentTimeMillis(), node.nonce()),
          401,
          "an upgrade signed for another address: relayed from where the node dialled");
      assertThat(
              Scrape.value(a, "gateway_ingest_commit_frames_total{outcome=\"follower_replayed\"}"))
          .isEqualTo(1);
      assertThat(
              Scrape.value(a, "gateway_ingest_commit_frames_total{outcome=\"follower_refused\"}"))
          .isEqualTo(2);
    }
  }

  /**
   * A follower that stops reading its socket for a while (its engine busy with the frames before
   * it) answers none of the writer's pings meanwhile, but is alive and says so with its own pings:
   * the writer keeps feeding it. Dropping it made it write its batches itself, a second writer
   * beside one that was already slow. Once it sends nothing for 3 s, it is dropped.
   */
  @Test
  void shouldKeepAFollowerThatPingsThoughItReadsNothingAndDropOneThatFallsSilent()
      throws Exception {
    String writer = "feed-w-" + UUID.randomUUID().toString().substring(0, 6);
    try (TestGateway a = TestGateway.start(env(writer))) {
      URI uri = URI.create("ws://127.0.0.1:" + a.port + "/internal/v1/commits");
      FeedSigner node = new FeedSigner(new byte[32], "feed-f");
      String nonce = node.nonce();
      String url = "http://127.0.0.1:" + a.port;
      CompletableFuture<String> proof = new CompletableFuture<>();
      WebSocket ws =
          upgrade(
              uri,
              node.upgrade(writer, url, System.currentTimeMillis(), nonce),
              firstText(proof, false)); // then asks for nothing more: no pong
      assertThat(node.proves(proof.get(10, TimeUnit.SECONDS), writer, url, nonce)).isTrue();
      String silent = "gateway_ingest_commit_frames_total{outcome=\"connection_silent\"}";
      double silentBefore = Scrape.value(a, silent);
      Await.until("followed", Duration.ofSeconds(10), () -> Scrape.value(a, FOLLOWERS) == 1);

      // the fault: 5 s without reading (past 3 s of silence and the writer's next check a second
      // later, with a second to spare for a late tick), pinging every half second
      long end = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (System.nanoTime() < end) {
        ws.sendPing(java.nio.ByteBuffer.allocate(0)).get(5, TimeUnit.SECONDS);
        assertThat(Scrape.value(a, FOLLOWERS)).as("still fed").isEqualTo(1);
        Thread.sleep(500);
      }
      assertThat(Scrape.value(a, silent)).as("not dropped as silent").isEqualTo(silentBefore);

      // then silent as well: dropped
      Await.until(
          "dropped as silent", Duration.ofSeconds(15), () -> Scrape.value(a, FOLLOWERS) == 0);
      assertThat(Scrape.value(a, silent)).isEqualTo(silentBefore + 1);
      ws.abort();
    }
  }

  /**
   * A node whose ingest limits differ from the writer's (a rolling change of {@code
   * ingest.max-data-depth}) would send batches parsed under limits the writer does not hold: it is
   * refused as a follower, and counted apart from other masking rules. The same node with the
   * writer's limits is taken.
   */
  @Test
  void shouldRefuseAFollowerThatParsesUnderOtherLimits() throws Exception {
    String writer = "feed-w-" + UUID.randomUUID().toString().substring(0, 6);
    try (TestGateway a = TestGateway.start(env(writer))) {
      URI uri = URI.create("ws://127.0.0.1:" + a.port + "/internal/v1/commits");
      FeedSigner node = new FeedSigner(new byte[32], "feed-f");
      String url = "http://127.0.0.1:" + a.port;
      assertUpgradeRefused(
          uri,
          node.upgrade(
              writer, url, System.currentTimeMillis(), node.nonce(), FeedSigner.deeperData()),
          409,
          "an upgrade from a node that lets data nest one level deeper");
      assertThat(
              Scrape.value(
                  a, "gateway_ingest_commit_frames_total{outcome=\"follower_limits_differ\"}"))
          .isEqualTo(1);
      assertThat(
              Scrape.value(
                  a, "gateway_ingest_commit_frames_total{outcome=\"follower_masks_differ\"}"))
          .isZero();
      WebSocket ws =
          upgrade(
              uri,
              node.upgrade(writer, url, System.currentTimeMillis(), node.nonce()),
              new WebSocket.Listener() {});
      Await.until(
          "the same node with the writer's limits follows",
          Duration.ofSeconds(10),
          () -> Scrape.value(a, FOLLOWERS) == 1);
      ws.abort();
    }
  }

  /**
   * The writer's side of ingest over the feed, driven by a test client that signs its upgrade as a
   * node would: a batch sent in small pieces is read back whole, committed and answered with its
   * seq; the same batch again is answered as a duplicate with the same seq; a damaged batch is
   * refused with nothing committed, and the connection still carries the next batch.
   */
  @Test
  void shouldCommitABatchANodeSendsInPiecesAndRefuseADamagedOne() throws Exception {
    String writer = "feed-b-" + UUID.randomUUID().toString().substring(0, 6);
    try (TestGateway a = TestGateway.start(env(writer))) {
      URI uri = URI.create("ws://127.0.0.1:" + a.port + "/internal/v1/commits");
      FeedSigner node = new FeedSigner(new byte[32], "feed-f");
      String url = "http://127.0.0.1:" + a.port;
      Map<String, String> headers =
          node.upgrade(writer, url, System.currentTimeMillis(), node.nonce());
      java.util.concurrent.LinkedBlockingQueue<ForwardedBatches.Answer> answers =
          new java.util.concurrent.LinkedBlockingQueue<>();
      WebSocket ws =
          upgrade(
              uri,
              headers,
              new WebSocket.Listener() {
                final java.io.ByteArrayOutputStream binary = new java.io.ByteArrayOutputStream();

                @Override
                public CompletionStage<?> onBinary(
                    WebSocket w, java.nio.ByteBuffer data, boolean last) {
                  byte[] b = new byte[data.remaining()];
                  data.get(b);
                  binary.writeBytes(b);
                  if (last) {
                    io.vertx.core.buffer.Buffer message =
                        io.vertx.core.buffer.Buffer.buffer(binary.toByteArray());
                    binary.reset();
                    if (ForwardedBatches.isAnswer(message)) {
                      answers.add(ForwardedBatches.readAnswer(message));
                    }
                  }
                  w.request(1);
                  return null;
                }
              });
      String merchant = "feed-batch-" + UUID.randomUUID().toString().substring(0, 6);
      List<NewEvent> events =
          new EventParser(100, 65536)
              .parse(
                  Events.batch(
                          List.of(
                              Events.event(merchant, "e-1")
                                  .put("data", new JsonObject().put("buyer", PERSONAL)),
                              Events.event(merchant, "e-2")))
                      .getBytes(java.nio.charset.StandardCharsets.UTF_8));
      io.vertx.core.buffer.Buffer batch = ForwardedBatches.batch(7, events);
      sendInPieces(ws, batch, 100);
      ForwardedBatches.Answer first = answers.poll(30, TimeUnit.SECONDS);
      assertThat(first).as("an answer").isNotNull();
      assertThat(first.id()).isEqualTo(7);
      assertThat(first.outcome()).isEqualTo(ForwardedBatches.Outcome.COMMITTED);
      assertThat(first.results(events))
          .extracting(r -> r.seq() + " " + r.duplicate())
          .containsExactly("1 false", "2 false");

      sendInPieces(ws, batch.getBuffer(0, batch.length() - 3), 64); // cut short
      ForwardedBatches.Answer refused = answers.poll(30, TimeUnit.SECONDS);
      assertThat(refused).isNotNull();
      assertThat(refused.id()).isEqualTo(7);
      assertThat(refused.outcome()).isEqualTo(ForwardedBatches.Outcome.FAILED);
      assertThat(Scrape.value(a, "gateway_ingest_feed_batches_total{outcome=\"malformed\"}"))
          .isEqualTo(1);

      sendInPieces(ws, ForwardedBatches.batch(8, events), 1 << 20);
      ForwardedBatches.Answer again = answers.poll(30, TimeUnit.SECONDS);
      assertThat(again).isNotNull();
      assertThat(again.id()).isEqualTo(8);
      assertThat(again.results(events))
          .as("the same events again: duplicates, the same seqs")
          .extracting(r -> r.seq() + " " + r.duplicate())
          .containsExactly("1 true", "2 true");
      assertThat(Scrape.value(a, "gateway_ingest_feed_batches_total{outcome=\"committed\"}"))
          .isEqualTo(2);
      ws.abort();
    }
  }

  /** A binary message as a first frame and continuations of at most {@code piece} bytes. */
  static void sendInPieces(WebSocket ws, io.vertx.core.buffer.Buffer message, int piece)
      throws Exception {
    byte[] bytes = message.getBytes();
    for (int at = 0; at < bytes.length; at += piece) {
      int end = Math.min(bytes.length, at + piece);
      ws.sendBinary(java.nio.ByteBuffer.wrap(bytes, at, end - at), end == bytes.length)
          .get(10, TimeUnit.SECONDS);
    }
  }

  /** A WebSocket to {@code uri} upgraded with {@code headers}, within 10 s. */
  /**
   * A listener that completes {@code first} with the first text message; past it, it reads on
   * (answering pings) when {@code readOn}, else it asks for nothing more.
   */
  static WebSocket.Listener firstText(CompletableFuture<String> first, boolean readOn) {
    return new WebSocket.Listener() {
      final StringBuilder text = new StringBuilder();

      @Override
      public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
        text.append(data);
        if (last) {
          first.complete(text.toString());
        }
        if (!last || readOn) {
          w.request(1);
        }
        return null;
      }
    };
  }

  static WebSocket upgrade(URI uri, Map<String, String> headers, WebSocket.Listener listener)
      throws Exception {
    WebSocket.Builder builder = HttpClient.newHttpClient().newWebSocketBuilder();
    headers.forEach(builder::header);
    return builder.buildAsync(uri, listener).get(10, TimeUnit.SECONDS);
  }

  static void assertUpgradeRefused(URI uri, Map<String, String> headers, int status, String what) {
    WebSocket.Builder builder = HttpClient.newHttpClient().newWebSocketBuilder();
    headers.forEach(builder::header);
    assertThatThrownBy(
            () -> builder.buildAsync(uri, new WebSocket.Listener() {}).get(10, TimeUnit.SECONDS))
        .as(what)
        .hasCauseInstanceOf(WebSocketHandshakeException.class)
        .satisfies(
            e ->
                assertThat(((WebSocketHandshakeException) e.getCause()).getResponse().statusCode())
                    .as(what)
                    .isEqualTo(status));
  }

  /** How the node at the writer's address answers a follower. */
  enum Rogue {
    /** a wrong proof, then frames */
    WRONG_PROOF,
    /** frames and no proof */
    FRAMES_ONLY,
    /** nothing at all (pings are answered) */
    SILENT
  }

  /**
   * Whoever answers at the writer's address (its advertise URL here, as a forged address in Redis
   * would) and cannot prove it holds the cluster's key feeds nothing, since its frames would be
   * delivered as committed events, and is forwarded no ingest request, which carries the caller's
   * token. It sends a wrong proof and then, every 100 ms, a frame with an event of the watched
   * merchant at seq 1; or only the frames; or nothing (the follower gives up after 3 s).
   */
  @ParameterizedTest
  @EnumSource(Rogue.class)
  void shouldTakeNoFrameFromANodeAtTheWritersAddressThatCannotProveItHoldsTheKey(Rogue rogueIs)
      throws Exception {
    String suffix = UUID.randomUUID().toString().substring(0, 6);
    io.vertx.core.Vertx vertx = io.vertx.core.Vertx.vertx();
    AtomicInteger upgrades = new AtomicInteger();
    AtomicInteger open = new AtomicInteger();
    AtomicInteger fed = new AtomicInteger(); // forged frames written
    AtomicInteger requests = new AtomicInteger(); // anything else: a forwarded ingest request
    Map<String, String> watchedMerchant = new ConcurrentHashMap<>();
    String forgedId = "forged-" + suffix;
    io.vertx.core.http.HttpServer rogue =
        vertx
            // as a gateway would: a follower's frames come unmasked
            .createHttpServer(
                new io.vertx.core.http.HttpServerOptions().setAcceptUnmaskedFrames(true))
            .requestHandler(
                req -> {
                  requests.incrementAndGet();
                  req.response().setStatusCode(503).end();
                })
            .webSocketHandler(
                ws -> {
                  upgrades.incrementAndGet();
                  open.incrementAndGet();
                  if (rogueIs == Rogue.WRONG_PROOF) {
                    ws.writeTextMessage("proof " + "A".repeat(43));
                  }
                  long timer =
                      vertx.setPeriodic(
                          0,
                          100,
                          t -> {
                            String m = watchedMerchant.get("m");
                            if (m != null && rogueIs != Rogue.SILENT) {
                              ws.writeBinaryMessage(forgedFrame("feed-a-" + suffix, m, forgedId));
                              fed.incrementAndGet();
                            }
                          });
                  ws.closeHandler(
                      v -> {
                        open.decrementAndGet();
                        vertx.cancelTimer(timer);
                      });
                  ws.exceptionHandler(e -> {});
                })
            .listen(0, "127.0.0.1")
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    Map<String, String> writerEnv = env("feed-a-" + suffix);
    writerEnv.put("GATEWAY_NODE_ADVERTISE_URL", "http://127.0.0.1:" + rogue.actualPort());
    GatewayProcess a = GatewayProcess.start(TestGateway.freePort(), "commit-feed-a.log", writerEnv);
    try (TestGateway b = TestGateway.start(env("feed-b-" + suffix));
        StreamFixture fx = new StreamFixture(b, TestServices.redis())) {
      Watched w = watchOne(fx, "rogue", b.port);
      watchedMerchant.put("m", w.merchant());
      String unproven = "gateway_ingest_commit_frames_total{outcome=\"writer_unproven\"}";
      // Either B is still connected to it and has been sent frames of its merchant, now claimed,
      // or B closed every connection to it: only then is the real event sent.
      fx.until(
          "B fed frames of its claimed merchant, or refusing the node at A's address",
          ROUND,
          () -> fed.get() >= 3 || (Scrape.value(b, unproven) >= 1 && open.get() == 0));

      String eventId = UUID.randomUUID().toString();
      send(HttpClient.newHttpClient(), a.port, Events.event(w.merchant(), eventId));
      fx.until("an event of the merchant delivered by B", ROUND, () -> !w.arrived().isEmpty());
      assertThat(w.arrived()).as("what the node at A's address fed").doesNotContainKey(forgedId);
      fx.until(
          "the event committed on A delivered by B, from the log",
          ROUND,
          () -> w.arrived().containsKey(eventId));
      assertThat(upgrades.get()).as("B tried to follow the node at A's address").isPositive();
      assertThat(Scrape.value(b, unproven)).isGreaterThanOrEqualTo(1);

      // Ingest through B, which would forward it to the writer: not to an unproven address.
      String viaB = UUID.randomUUID().toString();
      send(HttpClient.newHttpClient(), b.port, Events.event(w.merchant(), viaB));
      assertThat(requests.get()).as("requests forwarded to the node at A's address").isZero();
      assertThat(Scrape.value(b, "gateway_ingest_forwarded_total{outcome=\"written_here\"}"))
          .isGreaterThanOrEqualTo(1);
      fx.until("the event B wrote itself delivered", ROUND, () -> w.arrived().containsKey(viaB));
      assertThat(w.arrived().get(viaB).getLong("seq")).isEqualTo(2);
      assertThat(w.arrived().get(eventId).getLong("seq")).isEqualTo(1);
      assertThat(Scrape.value(b, "gateway_ingest_commit_frames_total{outcome=\"received\"}"))
          .isZero();
      w.client().close();
    } finally {
      a.terminate(Duration.ofSeconds(30));
      vertx.close();
    }
  }

  /**
   * A well-formed frame of one event at seq 1 for {@code merchant}: what only a writer may send.
   */
  static io.vertx.core.buffer.Buffer forgedFrame(String origin, String merchant, String eventId) {
    String line =
        EventJson.line(
            1,
            EventJson.afterSeq(java.time.Instant.now()),
            EventJson.tail(
                eventId, "o-forged", "order.created", "2026-11-11T00:00:00Z", "{\"forged\":1}"));
    return CommitFrames.encode(
        origin, Map.of(merchant, List.of(new LoggedEvent(1, line))), 1 << 20);
  }
}
