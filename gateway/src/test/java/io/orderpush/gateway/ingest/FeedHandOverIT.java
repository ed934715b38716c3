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
 * A follower hands the writer's commit frames to its delivery engine and reads on: the writer's
 * answers to its ingest batches are not held behind a frame the engine has not taken yet. When the
 * follower paused its socket for each frame, an engine short of CPU held every answer, and past 3 s
 * the follower took the writer for silent and wrote its batches itself. Two gateways in this JVM,
 * the follower's engine held on its event loop by the test.
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
    // node ids order the nodes: "a-" writes; three event loops, so that the follower's feed is not
    // on its engine's
    try (TestGateway writer = TestGateway.start(env("a-" + run));
        TestGateway follower = TestGateway.start(env("b-" + run))) {
      CommitFeed feed = follower.gateway.commitFeed();
      Context engine = follower.gateway.delivery().context();
      assertThat(((ContextInternal) feed.context()).nettyEventLoop())
          .as("the follower's feed runs on another event loop than its engine")
          .isNotSameAs(((ContextInternal) engine).nettyEventLoop());
      Await.until(
          "the follower forwards to the writer",
          WAIT,
          () -> {
            ingest(follower, "warm-" + UUID.randomUUID());
            return Scrape.value(follower, FORWARDED) > 0;
          });

      CountDownLatch held = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      double received = Scrape.value(follower, RECEIVED);
      // the fault: the follower's engine does not run (its event loop short of CPU)
      engine.runOnContext(
          v -> {
            held.countDown();
            try {
              release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
      try {
        assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
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
        assertThat(release.getCount()).as("while the engine was still held").isEqualTo(1);
      } finally {
        release.countDown();
      }
      Await.until(
          "the engine took the frames once it ran",
          WAIT,
          () -> Scrape.value(follower, RECEIVED) > received);
    }
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
