package io.orderpush.gateway.cursor;

import static org.assertj.core.api.Assertions.assertThat;

import io.lettuce.core.LettuceFutures;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.orderpush.delivery.cursor.CursorStore;
import io.orderpush.persistence.redis.RedisStore;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A deleted app's sweep walks Redis's whole key space in small SCAN steps. With a few hundred
 * thousand keys that is thousands of steps: the walk must finish (it once never did, and the app's
 * hashes stayed for good) and remove only the deleted apps' hashes.
 */
class CursorForgetIT {

  /**
   * Other apps' channels: about 1,000 SCAN steps of 100 keys (enough to overflow a nested chain).
   */
  static final int OTHERS = 100_000;

  final Vertx vertx = Vertx.vertx();
  RedisStore redis;

  @AfterEach
  void close() throws Exception {
    if (redis != null) {
      CursorCommitsIT.join(redis.close(vertx));
    }
    vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test
  void shouldFinishAWalkOfHundredsOfThousandsOfKeysAndRemoveOnlyTheDeletedAppsHashes()
      throws Exception {
    redis = CursorCommitsIT.join(RedisStore.connect(vertx, TestServices.redis()));
    CursorStore store = new CursorStore(redis);
    Context ctx = vertx.getOrCreateContext();
    UUID deleted = UUID.randomUUID();
    UUID other = UUID.randomUUID();
    try (var client = io.lettuce.core.RedisClient.create(TestServices.redisUrl());
        var conn = client.connect()) {
      RedisAsyncCommands<String, String> async = conn.async();
      conn.setAutoFlushCommands(false);
      List<RedisFuture<?>> writes = new ArrayList<>();
      for (int i = 0; i < OTHERS; i++) {
        writes.add(async.hset("gw:ch:{" + other + ":m-" + i + "}", "cursor", "1"));
        if (writes.size() == 10_000) {
          conn.flushCommands();
          LettuceFutures.awaitAll(Duration.ofSeconds(30), writes.toArray(RedisFuture[]::new));
          writes.clear();
        }
      }
      for (int i = 0; i < 3; i++) {
        writes.add(async.hset("gw:ch:{" + deleted + ":m-" + i + "}", "cursor", "1"));
      }
      conn.flushCommands();
      LettuceFutures.awaitAll(Duration.ofSeconds(30), writes.toArray(RedisFuture[]::new));
      conn.setAutoFlushCommands(true);
      try {
        long removed = CursorCommitsIT.on(ctx, () -> store.forgetApps(ctx, Set.of(deleted)), 120);
        assertThat(removed).as("the deleted app's hashes removed").isEqualTo(3);
        assertThat(conn.sync().exists("gw:ch:{" + deleted + ":m-0}")).isZero();
        assertThat(conn.sync().exists("gw:ch:{" + other + ":m-" + (OTHERS - 1) + "}"))
            .as("another app's hash")
            .isOne();
      } finally {
        long gone = CursorCommitsIT.on(ctx, () -> store.forgetApp(ctx, other), 120);
        assertThat(gone).as("the other app's hashes, one by one walk").isEqualTo(OTHERS);
      }
    }
  }
}
