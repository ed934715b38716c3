package io.orderpush.gateway.cursor;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.orderpush.delivery.cursor.Claim;
import io.orderpush.delivery.cursor.CommitOutcome;
import io.orderpush.delivery.cursor.CursorCommits;
import io.orderpush.delivery.cursor.CursorStore;
import io.orderpush.persistence.redis.RedisSettings;
import io.orderpush.persistence.redis.RedisStore;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Acks' cursor commits coalesced per run of the engine's task queue, on a single Redis and on a
 * Redis Cluster: fewer calls, and every commit still fenced by its own epoch.
 */
class CursorCommitsIT {

  final Vertx vertx = Vertx.vertx();
  RedisStore redis;

  @AfterEach
  void close() throws Exception {
    if (redis != null) {
      join(redis.close(vertx));
    }
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  static <T> T join(Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(20, TimeUnit.SECONDS);
  }

  /** Runs {@code body} as one task of {@code ctx}, waiting for the future it returns. */
  static <T> T on(Context ctx, Supplier<Future<T>> body) throws Exception {
    return on(ctx, body, 20);
  }

  /** As {@link #on(Context, Supplier)}, waiting at most {@code seconds}. */
  static <T> T on(Context ctx, Supplier<Future<T>> body, long seconds) throws Exception {
    CompletableFuture<T> out = new CompletableFuture<>();
    ctx.runOnContext(
        v ->
            body.get()
                .onComplete(
                    ar -> {
                      if (ar.succeeded()) {
                        out.complete(ar.result());
                      } else {
                        out.completeExceptionally(ar.cause());
                      }
                    }));
    return out.get(seconds, TimeUnit.SECONDS);
  }

  RedisSettings settings(boolean cluster) {
    return cluster ? TestServices.redisCluster() : TestServices.redis();
  }

  @ParameterizedTest(name = "cluster={0}")
  @ValueSource(booleans = {false, true})
  void shouldStoreTheAcksOfOneTaskInOneFlushEachFencedByItsOwnEpoch(boolean cluster)
      throws Exception {
    redis = join(RedisStore.connect(vertx, settings(cluster)));
    CursorStore store = new CursorStore(redis);
    Context ctx = vertx.getOrCreateContext();
    SimpleMeterRegistry registry = new SimpleMeterRegistry();
    CursorCommits commits = new CursorCommits(store, ctx, registry);
    UUID app = UUID.randomUUID();
    List<String> merchants = new ArrayList<>();
    List<Long> epochs = new ArrayList<>();
    for (int i = 0; i < 200; i++) { // more than one call carries on a single Redis
      String m = TestServices.uniqueMerchant("coalesce");
      merchants.add(m);
      epochs.add(join(store.claim(ctx, app, m, 0, "owner", 1, "node-a", null)).epoch());
    }
    String never = TestServices.uniqueMerchant("never-claimed");

    List<CommitOutcome> outcomes =
        on(
            ctx,
            () -> {
              List<Future<CommitOutcome>> all = new ArrayList<>();
              for (int i = 0; i < merchants.size(); i++) {
                all.add(commits.commit(app, merchants.get(i), epochs.get(i), 10 + i, 10 + i));
              }
              // the first channel again, lower and then higher: one commit of the highest
              all.add(commits.commit(app, merchants.get(0), epochs.get(0), 5, 5));
              all.add(commits.commit(app, merchants.get(0), epochs.get(0), 30, 25));
              // the second channel under a stale epoch: fenced, whatever the current one does
              all.add(commits.commit(app, merchants.get(1), epochs.get(1) - 1, 99, 99));
              all.add(commits.commit(app, never, 1, 3, 3));
              return Future.all(all).map(f -> all.stream().map(Future::result).toList());
            });

    int n = merchants.size();
    assertThat(outcomes.subList(0, n)).containsOnly(CommitOutcome.ADVANCED);
    assertThat(outcomes.get(n)).as("merged into the higher ack").isEqualTo(CommitOutcome.ADVANCED);
    assertThat(outcomes.get(n + 1)).isEqualTo(CommitOutcome.ADVANCED);
    assertThat(outcomes.get(n + 2)).as("stale epoch").isEqualTo(CommitOutcome.FENCED);
    assertThat(outcomes.get(n + 3))
        .as("a channel Redis does not hold")
        .isEqualTo(CommitOutcome.MISSING);
    assertThat(join(store.cursor(ctx, app, merchants.get(0)))).isEqualTo(30);
    assertThat(join(store.cursor(ctx, app, merchants.get(1)))).isEqualTo(11);
    for (int i = 2; i < n; i++) {
      assertThat(join(store.cursor(ctx, app, merchants.get(i)))).isEqualTo(10 + i);
    }
    assertThat(registry.get("gateway.cursor.commit.flushes").counter().count())
        .as("one flush for every ack handled in one task")
        .isEqualTo(1);
    assertThat(registry.get("gateway.cursor.commit.channels").summary().totalAmount())
        .as("channel-epoch pairs in the flush: each channel's acks of one epoch merged")
        .isEqualTo(n + 2);
    join(store.forget(ctx, app, merchants));
  }

  @ParameterizedTest(name = "cluster={0}")
  @ValueSource(booleans = {false, true})
  void shouldKeepACursorSetBeforeTheChannelsFirstClaimForThatClaimAndStartOverForANewerGrant(
      boolean cluster) throws Exception {
    redis = join(RedisStore.connect(vertx, settings(cluster)));
    CursorStore store = new CursorStore(redis);
    Context ctx = vertx.getOrCreateContext();
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("rewind-unclaimed");
    long grant = 1_700_000_000_000L;
    // set through the API before any node claimed the channel (no hash yet)
    join(store.rewind(ctx, app, m, 15, grant));
    // the first claim, under that grant, from the grant's start (a channel made as it was granted)
    Claim first = join(store.claim(ctx, app, m, 0, "owner", grant, "node-a", null));
    assertThat(first.cursor()).as("the cursor set before the first claim").isEqualTo(15);
    // a newer grant (revoked and granted again) starts over from its own start
    join(store.release(ctx, app, m, "node-a", first.epoch(), -1));
    Claim regranted = join(store.claim(ctx, app, m, 3, "owner", grant + 1, "node-a", null));
    assertThat(regranted.cursor()).isEqualTo(3);
    join(store.forget(ctx, app, List.of(m)));
  }

  @ParameterizedTest(name = "cluster={0}")
  @ValueSource(booleans = {false, true})
  void shouldFenceAWaitingCommitWhenAnotherNodeClaimsTheChannelBeforeTheFlush(boolean cluster)
      throws Exception {
    redis = join(RedisStore.connect(vertx, settings(cluster)));
    CursorStore store = new CursorStore(redis);
    Context ctx = vertx.getOrCreateContext();
    CursorCommits commits = new CursorCommits(store, ctx, new SimpleMeterRegistry());
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("coalesce-fence");
    long epoch = join(store.claim(ctx, app, m, 0, "owner", 1, "node-a", null)).epoch();
    assertThat(join(commits.commit(app, m, epoch, 4, 4))).isEqualTo(CommitOutcome.ADVANCED);

    CommitOutcome late =
        on(
            ctx,
            () -> {
              // queued for the flush, the next task...
              Future<CommitOutcome> waiting = commits.commit(app, m, epoch, 9, 9);
              // ...while node b takes the channel over from a, sent to Redis right now
              store.claim(ctx, app, m, 0, "other", 1, "node-b", "node-a");
              return waiting;
            });

    assertThat(late).isEqualTo(CommitOutcome.FENCED);
    assertThat(join(store.cursor(ctx, app, m)))
        .as("the cursor the new owner starts from")
        .isEqualTo(4);
    join(store.forget(ctx, app, List.of(m)));
  }

  @ParameterizedTest(name = "cluster={0}")
  @ValueSource(booleans = {false, true})
  void shouldStoreAWaitingAckBeforeAReleaseSentAfterAFlush(boolean cluster) throws Exception {
    redis = join(RedisStore.connect(vertx, settings(cluster)));
    CursorStore store = new CursorStore(redis);
    Context ctx = vertx.getOrCreateContext();
    CursorCommits commits = new CursorCommits(store, ctx, new SimpleMeterRegistry());
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("coalesce-release");
    long epoch = join(store.claim(ctx, app, m, 0, "owner", 1, "node-a", null)).epoch();

    CommitOutcome acked =
        on(
            ctx,
            () -> {
              Future<CommitOutcome> waiting = commits.commit(app, m, epoch, 7, 7);
              // what the engine does before letting a channel go: the ack goes first
              commits.flush();
              store.release(ctx, app, m, "node-a", epoch, -1);
              store.claim(ctx, app, m, 0, "other", 1, "node-b", null);
              return waiting;
            });

    assertThat(acked).isEqualTo(CommitOutcome.ADVANCED);
    assertThat(join(store.cursor(ctx, app, m)))
        .as("the next owner starts after the ack handled before the release")
        .isEqualTo(7);
    join(store.forget(ctx, app, List.of(m)));
  }
}
