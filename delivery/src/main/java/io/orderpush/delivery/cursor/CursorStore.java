package io.orderpush.delivery.cursor;

import io.lettuce.core.ScriptOutputType;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.List;
import java.util.UUID;

/**
 * Channel cursors in Redis, one hash per channel: {@code cursor} (highest acked seq), {@code epoch}
 * (bumped by every claim) and {@code owner}. Every change is one Lua script, so it is atomic; a
 * commit moves the cursor only forward and only for the current epoch, which fences stale owners
 * (a connection that lost the channel, a zombie after a network cut) for good.
 */
public final class CursorStore {

  // KEYS[1] channel hash; ARGV[1] the initial cursor if the channel is new, ARGV[2] owner id.
  private static final String CLAIM =
      "redis.call('HSETNX', KEYS[1], 'cursor', ARGV[1]) "
          + "local e = redis.call('HINCRBY', KEYS[1], 'epoch', 1) "
          + "redis.call('HSET', KEYS[1], 'owner', ARGV[2]) "
          + "return {e, tonumber(redis.call('HGET', KEYS[1], 'cursor'))}";

  // KEYS[1] channel hash; ARGV[1] epoch, ARGV[2] acked seq. -1 fenced, 1 advanced, 0 unchanged.
  private static final String COMMIT =
      "if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end "
          + "local c = tonumber(redis.call('HGET', KEYS[1], 'cursor') or '0') "
          + "if tonumber(ARGV[2]) > c then redis.call('HSET', KEYS[1], 'cursor', ARGV[2]) return 1 end "
          + "return 0";

  private final RedisStore redis;

  public CursorStore(RedisStore redis) {
    this.redis = redis;
  }

  static String key(UUID appId, String merchantId) {
    return "gw:ch:{" + appId + ":" + merchantId + "}";
  }

  /** Takes the channel for {@code owner}: a new epoch, and the cursor ({@code initial} if none yet). */
  public Future<Claim> claim(Context ctx, UUID appId, String merchantId, long initial, String owner) {
    String[] keys = {key(appId, merchantId)};
    return Future.fromCompletionStage(
            redis.async().<List<Long>>eval(CLAIM, ScriptOutputType.MULTI, keys, Long.toString(initial), owner), ctx)
        .map(r -> new Claim(r.get(0), r.get(1)));
  }

  /** Moves the cursor to {@code seq} if that is forward and {@code epoch} is still current. */
  public Future<CommitOutcome> commit(Context ctx, UUID appId, String merchantId, long epoch, long seq) {
    String[] keys = {key(appId, merchantId)};
    return Future.fromCompletionStage(
            redis.async().<Long>eval(COMMIT, ScriptOutputType.INTEGER, keys, Long.toString(epoch), Long.toString(seq)), ctx)
        .map(r -> r < 0 ? CommitOutcome.FENCED : r > 0 ? CommitOutcome.ADVANCED : CommitOutcome.UNCHANGED);
  }

  /** The stored cursor, or -1 if the channel has none yet. */
  public Future<Long> cursor(Context ctx, UUID appId, String merchantId) {
    return Future.fromCompletionStage(redis.async().hget(key(appId, merchantId), "cursor"), ctx)
        .map(v -> v == null ? -1L : Long.parseLong(v));
  }
}
