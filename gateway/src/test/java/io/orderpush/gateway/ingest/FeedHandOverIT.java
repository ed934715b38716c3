package io.orderpush.gateway.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.events.AppendResult;
import io.orderpush.persistence.events.NewEvent;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.internal.ContextInternal;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The commit feed with event loops short of CPU, held by the test (gateways in this JVM). A
 * follower hands the writer's commit frames to its delivery engine and reads on: the writer's
 * answers to its ingest batches are not held behind a frame the engine has not taken yet. When the
 * follower paused its socket for each frame, an engine short of CPU held every answer, and past 3 s
 * the follower took the writer for silent and wrote its batches itself. And a writer whose event
 * loop reads a follower's frames late does not take that for the follower's silence.
 */
class FeedHandOverIT {

  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final String FORWARDED = "gateway_ingest_forwarded_total{outcome=\"forwarded\"}";
  private static final String SENT = "gateway_ingest_commit_frames_total{outcome=\"sent\"}";
  private static final String RECEIVED = "gateway_ingest_commit_frames_total{outcome=\"received\"}";

  @Test
  void shouldTakeTheWritersAnswerWhileTheEngineHasNotTakenTheFrameBeforeIt() throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 6);
    String merchant = "handover-" + run;
    try (TestGateway writer = TestGateway.start(env("a-" + run));
        TestGateway follower = TestGateway.start(env("b-" + run))) {
      CommitFeed feed = follower.gateway.commitFeed();
      Context engine = followingEngine(follower);

      double received = Scrape.value(follower, RECEIVED);
      // the fault: the follower's engine does not run (its event loop short of CPU)
      CountDownLatch release = hold(engine);
      try {
        double sent = Scrape.value(writer, SENT);
        ingest(writer, "direct-" + run); // committed by the writer, fed to the follower
        Await.until("the writer fed the follower", WAIT, () -> Scrape.value(writer, SENT) > sent);

        List<NewEvent> events =
            new EventParser(100, 65536)
                .parse(
                    Events.batch(List.of(Events.event(merchant, "through-" + run)))
                        .getBytes(StandardCharsets.UTF_8));
        AtomicBoolean writtenHere = new AtomicBoolean();
        Future<List<AppendResult>> answer =
            feed.append(
                events,
                e -> {
                  writtenHere.set(true);
                  return Future.failedFuture("written here");
                });
        List<AppendResult> results =
            answer.toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertThat(results).extracting(AppendResult::duplicate).containsExactly(false);
        assertThat(writtenHere).as("answered by the writer, not written here").isFalse();
        assertThat(feed.framesWaiting())
            .as("answered while the frames before it wait for the engine")
            .isPositive();
      } finally {
        release.countDown();
      }
      Await.until(
          "the engine took the frames once it ran",
          WAIT,
          () -> Scrape.value(follower, RECEIVED) > received);
    }
  }

  /**
   * A follower whose engine is 16 MiB of frames behind stops reading the writer's connection: it
   * answers its own ingest requests 503 (their answers would wait behind the frames), and does not
   * take the writer, whose pongs wait unread as well, for silent. Once its engine runs, it reads
   * on, and forwards again.
   */
  @Test
  void shouldAnswer503WhileTheEngineIsFarBehindAndNotTakeTheWriterForSilent() throws Exception {
    String run = UUID.randomUUID().toString().substring(0, 6);
    try (TestGateway writer = TestGateway.start(env("a-" + run));
        TestGateway follower = TestGateway.start(env("b-" + run))) {
      CommitFeed feed = follower.gateway.commitFeed();
      Context engine = followingEngine(follower);
      double received = Scrape.value(follower, RECEIVED);
      String silent = "gateway_ingest_commit_frames_total{outcome=\"connection_silent\"}";
      double silentBefore = Scrape.value(follower, silent);

      CountDownLatch release = hold(engine);
      try {
        // frames of about 4 MB a request (each event's line and its masked rendering), until
        // more than 16 MiB wait for the engine
        String note = "x".repeat(20_000);
        for (int r = 0; r < 40 && feed.framesWaiting() <= CommitFeed.FRAMES_WAITING_BYTES; r++) {
          List<io.vertx.core.json.JsonObject> events = new java.util.ArrayList<>();
          for (int i = 0; i < 100; i++) {
            events.add(
                Events.event("handover-far-" + (i % 10), "far-" + r + "-" + i + "-" + run)
                    .put("data", new io.vertx.core.json.JsonObject().put("note", note)));
          }
          var resp = writer.ingest(Events.batch(events));
          assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
        }
        assertThat(feed.framesWaiting()).isGreaterThan(CommitFeed.FRAMES_WAITING_BYTES);

        List<NewEvent> one =
            new EventParser(100, 65536)
                .parse(
                    Events.batch(List.of(Events.event("handover-far-0", "behind-" + run)))
                        .getBytes(StandardCharsets.UTF_8));
        Future<List<AppendResult>> refused =
            feed.append(one, e -> Future.failedFuture("written here"));
        assertThat(refused.toCompletionStage().toCompletableFuture())
            .failsWithin(10, TimeUnit.SECONDS)
            .withThrowableThat()
            .havingRootCause()
            .isInstanceOf(io.orderpush.persistence.events.IngestOverloadedException.class)
            .withMessageContaining("behind");
        // the fault lasts past 3 s of silence and the follower's next checks
        Thread.sleep(5_000);
      } finally {
        release.countDown();
      }
      Await.until("the engine took the frames", WAIT, () -> feed.framesWaiting() == 0);
      assertThat(Scrape.value(follower, RECEIVED)).isGreaterThan(received);
      assertThat(Scrape.value(follower, silent))
          .as("the writer was not taken for silent")
          .isEqualTo(silentBefore);
      double forwarded = Scrape.value(follower, FORWARDED);
      ingest(follower, "after-" + run);
      assertThat(Scrape.value(follower, FORWARDED)).as("forwards again").isGreaterThan(forwarded);
    }
  }

  /**
   * The writer reads a follower's frames on that connection's event loop. When that loop is short
   * of CPU, the follower's pings wait unread in the socket, and the silence is the writer's own:
   * the writer, whose feed runs on another loop, keeps the follower. The follower is the test,
   * pinging every half second.
   */
  @Test
  void shouldNotDropAFollowerWhoseConnectionsEventLoopIsBehind() throws Exception {
    String writerId = "a-" + UUID.randomUUID().toString().substring(0, 6);
    try (TestGateway writer = TestGateway.start(env(writerId))) {
      CommitFeed feed = writer.gateway.commitFeed();
      FeedSigner node = new FeedSigner(new byte[32], "feed-f");
      String url = "http://127.0.0.1:" + writer.port;
      java.net.URI uri = java.net.URI.create("ws://127.0.0.1:" + writer.port + CommitFeed.PATH);
      // connections are spread over the event loops: again until one is not on the feed's
      java.net.http.WebSocket ws = null;
      Context read = null;
      for (int i = 0; i < 10 && read == null; i++) {
        if (ws != null) {
          ws.abort();
        }
        ws = follow(node, writerId, url, uri);
        Await.until("followed", WAIT, () -> feed.followerContext("feed-f") != null);
        Context c = feed.followerContext("feed-f");
        if (loop(c) != loop(feed.context())) {
          read = c;
        }
      }
      assertThat(read).as("a connection on another event loop than the feed's").isNotNull();
      String silent = "gateway_ingest_commit_frames_total{outcome=\"connection_silent\"}";
      double silentBefore = Scrape.value(writer, silent);

      // the fault: the connection's event loop does not run for 6 s (past 3 s of silence and the
      // feed's next checks); the follower pings on
      CountDownLatch release = hold(read);
      try {
        long end = System.nanoTime() + Duration.ofSeconds(6).toNanos();
        while (System.nanoTime() < end) {
          ping(ws);
          Thread.sleep(500);
        }
      } finally {
        release.countDown();
      }
      // two more of the feed's checks, on a loop that runs again
      long end = System.nanoTime() + Duration.ofSeconds(3).toNanos();
      while (System.nanoTime() < end) {
        ping(ws);
        Thread.sleep(500);
      }
      assertThat(Scrape.value(writer, silent)).as("not dropped as silent").isEqualTo(silentBefore);
      assertThat(feed.followerContext("feed-f")).as("still followed").isSameAs(read);
      ws.abort();
    }
  }

  /** Pings the writer; a connection it closed (it dropped the follower) shows in the metrics. */
  private static void ping(java.net.http.WebSocket ws) throws InterruptedException {
    try {
      ws.sendPing(java.nio.ByteBuffer.allocate(0)).get(5, TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      // closed by the writer
    }
  }

  /**
   * Holds {@code ctx}'s event loop (the fault: a loop short of CPU) until the returned latch is
   * counted down, at most a minute; returns once the loop is held.
   */
  private static CountDownLatch hold(Context ctx) throws InterruptedException {
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    ctx.runOnContext(
        v -> {
          held.countDown();
          try {
            release.await(60, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        });
    assertThat(held.await(10, TimeUnit.SECONDS)).as("the loop held").isTrue();
    return release;
  }

  /**
   * The engine's context of a follower (node ids order the nodes: "a-" writes), once it forwards to
   * the writer; with three event loops (env), its feed is on another loop than its engine.
   */
  private static Context followingEngine(TestGateway follower) {
    Context engine = follower.gateway.delivery().context();
    assertThat(loop(follower.gateway.commitFeed().context()))
        .as("the follower's feed runs on another event loop than its engine")
        .isNotSameAs(loop(engine));
    Await.until(
        "the follower forwards to the writer",
        WAIT,
        () -> {
          ingest(follower, "warm-" + UUID.randomUUID());
          return Scrape.value(follower, FORWARDED) > 0;
        });
    return engine;
  }

  private static Object loop(Context c) {
    return ((ContextInternal) c).nettyEventLoop();
  }

  /** A follower's connection, as node {@code node}: reads the writer's proof, and pongs. */
  private static java.net.http.WebSocket follow(
      FeedSigner node, String writer, String url, java.net.URI uri) throws Exception {
    var builder = java.net.http.HttpClient.newHttpClient().newWebSocketBuilder();
    node.upgrade(writer, url, System.currentTimeMillis(), node.nonce()).forEach(builder::header);
    return builder
        .buildAsync(uri, new java.net.http.WebSocket.Listener() {})
        .get(10, TimeUnit.SECONDS);
  }

  private static Map<String, String> env(String nodeId) {
    return Map.of(
        "GATEWAY_NODE_ID", nodeId,
        "GATEWAY_HTTP_EVENT_LOOPS", "3",
        "GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "600000",
        "GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "600000");
  }

  private static void ingest(TestGateway gw, String eventId) {
    String merchant = "handover-warm";
    var r = gw.ingest(Events.batch(List.of(Events.event(merchant, eventId))));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }
}
