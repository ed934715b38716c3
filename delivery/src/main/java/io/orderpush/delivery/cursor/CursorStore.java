package io.orderpush.delivery.cursor;

import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.cluster.SlotHash;
import io.orderpush.persistence.redis.RedisScript;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Channel cursors in Redis, one hash per channel: {@code cursor} (highest acked seq), {@code epoch}
 * (bumped by every claim and rewind), {@code owner} (the subscriber), {@code node} (the lease token
 * of the node that holds it, or {@code released}), {@code held} (the epoch of that node's claim),
 * {@code prev}: the last seq at or below the cursor that the app was delivered, when the cursor
 * moved past events its event types leave out (absent: the cursor itself), so the {@code prevSeq}
 * after a reconnect is the seq the app last received; and {@code rewinds}, how many times the
 * cursor was set through the API or started again for a new grant of a merchant granted before
 * (absent: never), which callback batch ids carry so that events sent again are not taken for
 * retries of what was sent before. Redis alone keeps it: a channel Redis lost counts from 0 again.
 * Every change is one Lua script, so it is atomic; a commit moves the cursor only forward and only
 * for the current epoch, which fences stale owners (a connection that lost the channel, a zombie
 * after a network cut) for good.
 *
 * <p>Each channel's hash is tagged by its channel ({@code gw:ch:{app:merchant}}), so on a Redis
 * Cluster every script's one key has a slot of its own and channels spread over the shards.
 */
public final class CursorStore {

  // KEYS[1] channel hash; ARGV[1] the initial cursor, ARGV[2] owner id, ARGV[3] the grant's
  // version, ARGV[4] the claiming node's token, ARGV[5] a dead holder's token to take over from
  // ('').
  // The initial cursor applies when Redis has no cursor for this grant: a new channel, a channel
  // Redis lost, or a merchant that revoked and granted again (whose old cursor must not count).
  // Compare-and-set: only a channel that nobody holds ('node' absent or 'released'), that this
  // node holds already, or whose holder the caller found dead can be claimed. A new grant's claim
  // also lifts the expiry a revoke put on the hash (EXPIRE_REVOKED). Returns {epoch,
  // cursor, prev, '', rewinds} or, refused, {-1, 0, 0, holder}.
  private static final RedisScript CLAIM =
      new RedisScript(
          "local n = redis.call('HGET', KEYS[1], 'node') "
              + "if n and n ~= 'released' and n ~= ARGV[4] and n ~= ARGV[5] then return {-1, 0, 0, n} end "
              + "local g = redis.call('HGET', KEYS[1], 'grant') "
              + "if g ~= ARGV[3] then "
              + "redis.call('HSET', KEYS[1], 'cursor', ARGV[1], 'grant', ARGV[3]) "
              + "redis.call('HDEL', KEYS[1], 'prev') "
              + "redis.call('PERSIST', KEYS[1]) "
              // a new grant of a merchant granted before may send its seqs again: new batch ids
              + "if g then redis.call('HINCRBY', KEYS[1], 'rewinds', 1) end end "
              + "local e = redis.call('HINCRBY', KEYS[1], 'epoch', 1) "
              + "redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'node', ARGV[4], 'held', e) "
              + "local c = tonumber(redis.call('HGET', KEYS[1], 'cursor')) "
              + "return {e, c, tonumber(redis.call('HGET', KEYS[1], 'prev') or c), '', "
              + "tonumber(redis.call('HGET', KEYS[1], 'rewinds') or '0')}");

  // KEYS[1] channel hash; ARGV[1] the releasing node's token, ARGV[2] the epoch of its claim,
  // ARGV[3] a seq acked meanwhile (or -1). Only the claim it made is released (a later claim, by
  // this node or another, is left alone); the acked seq counts only if no rewind came between
  // (it was delivered, so it is also the last seq delivered: prev goes).
  // Returns 1 released, 0 not held by that claim.
  private static final RedisScript RELEASE =
      new RedisScript(
          "if redis.call('HGET', KEYS[1], 'node') ~= ARGV[1] "
              + "or redis.call('HGET', KEYS[1], 'held') ~= ARGV[2] then return 0 end "
              + "if redis.call('HGET', KEYS[1], 'epoch') == ARGV[2] then "
              + "local c = tonumber(redis.call('HGET', KEYS[1], 'cursor') or '0') "
              + "if tonumber(ARGV[3]) > c then redis.call('HSET', KEYS[1], 'cursor', ARGV[3]) "
              + "redis.call('HDEL', KEYS[1], 'prev') end end "
              + "redis.call('HSET', KEYS[1], 'node', 'released') "
              + "return 1");

  // KEYS[1] channel hash; ARGV[1] epoch, ARGV[2] acked seq, ARGV[3] the last delivered seq <= it.
  // -2 missing (Redis lost the channel), -1 fenced, 1 advanced, 0 unchanged.
  private static final RedisScript COMMIT =
      new RedisScript(
          "local e = redis.call('HGET', KEYS[1], 'epoch') "
              + "if not e then return -2 end "
              + "if e ~= ARGV[1] then return -1 end "
              + "local c = tonumber(redis.call('HGET', KEYS[1], 'cursor') or '0') "
              + "if tonumber(ARGV[2]) > c then "
              + "if ARGV[3] == ARGV[2] then redis.call('HSET', KEYS[1], 'cursor', ARGV[2]) "
              + "redis.call('HDEL', KEYS[1], 'prev') "
              + "else redis.call('HSET', KEYS[1], 'cursor', ARGV[2], 'prev', ARGV[3]) end "
              + "return 1 end "
              + "return 0");

  // COMMIT for several channels in one call: KEYS[i] a channel hash, ARGV[3i-2..3i] its epoch,
  // acked seq and last delivered seq, as COMMIT's. Returns one COMMIT answer per key, in order.
  // On a Redis Cluster every key of one call must share a slot (see commitAll).
  private static final RedisScript COMMIT_ALL =
      new RedisScript(
          "local out = {} "
              + "for i, k in ipairs(KEYS) do "
              + "local a = (i - 1) * 3 "
              + "local h = redis.call('HMGET', k, 'epoch', 'cursor') "
              + "if not h[1] then out[i] = -2 "
              + "elseif h[1] ~= ARGV[a + 1] then out[i] = -1 "
              + "elseif tonumber(ARGV[a + 2]) > tonumber(h[2] or '0') then "
              + "if ARGV[a + 3] == ARGV[a + 2] then redis.call('HSET', k, 'cursor', ARGV[a + 2]) "
              + "redis.call('HDEL', k, 'prev') "
              + "else redis.call('HSET', k, 'cursor', ARGV[a + 2], 'prev', ARGV[a + 3]) end "
              + "out[i] = 1 "
              + "else out[i] = 0 end end "
              + "return out");

  /** Channels one {@link #commitAll} call carries at most; more go in further calls. */
  public static final int MAX_COMMITS_PER_CALL = 128;

  // KEYS[1] channel hash; ARGV[1] the new cursor, ARGV[2] the version of the grant it is set under.
  // Returns the new epoch. The holder stays: it claims again when its next ack finds itself
  // fenced, and its claim answers the new rewinds. A hash with no grant yet (nothing claimed it)
  // or an older one's is marked with this grant, so that its first claim keeps the cursor set here
  // instead of taking it for a new grant's and starting over. An expiry a revoke put on the hash
  // stays (the request may have read its grant just before a revoke): a new grant's channel whose
  // hash expires starts again from its checkpoint, which the rewind wrote.
  private static final RedisScript REWIND =
      new RedisScript(
          "local g = redis.call('HGET', KEYS[1], 'grant') "
              + "if not g or tonumber(g) < tonumber(ARGV[2]) then "
              + "redis.call('HSET', KEYS[1], 'grant', ARGV[2]) end "
              + "redis.call('HSET', KEYS[1], 'cursor', ARGV[1]) "
              + "redis.call('HDEL', KEYS[1], 'prev') "
              + "redis.call('HINCRBY', KEYS[1], 'rewinds', 1) "
              + "return redis.call('HINCRBY', KEYS[1], 'epoch', 1)");

  // KEYS[1] channel hash; ARGV[1] the revoked grant's version, ARGV[2] milliseconds. The hash of a
  // revoked grant expires, unless a newer grant's claim came first (then 'grant' is the newer
  // one's). A hash last claimed by an older grant (revoked, granted again, revoked again before
  // anything claimed) or by none ('grant' absent: a cursor set before any consumer came) expires
  // too; a new grant's first claim lifts that expiry. Versions are epoch milliseconds, exact as
  // Lua numbers. Returns 1 if the expiry was set.
  private static final RedisScript EXPIRE_REVOKED =
      new RedisScript(
          "local g = redis.call('HGET', KEYS[1], 'grant') "
              + "if g and tonumber(g) > tonumber(ARGV[1]) then return 0 end "
              + "return redis.call('PEXPIRE', KEYS[1], ARGV[2])");

  /** Keys one SCAN step of {@link #forgetApp} looks at. */
  static final int FORGET_SCAN_COUNT = 100;

  private final RedisStore redis;

  public CursorStore(RedisStore redis) {
    this.redis = redis;
  }

  static String key(UUID appId, String merchantId) {
    return "gw:ch:{" + appId + ":" + merchantId + "}";
  }

  /**
   * Takes the channel for {@code owner} of the node {@code node} (its lease token), if nobody else
   * holds it: a new epoch, and the cursor ({@code initial} if Redis has none for this {@code
   * grantVersion}). {@code takeoverFrom} names a holder the caller knows is dead (or null).
   */
  public Future<Claim> claim(
      Context ctx,
      UUID appId,
      String merchantId,
      long initial,
      String owner,
      long grantVersion,
      String node,
      String takeoverFrom) {
    String[] keys = {key(appId, merchantId)};
    return CLAIM
        .<List<Object>>run(
            redis,
            ctx,
            ScriptOutputType.MULTI,
            keys,
            Long.toString(initial),
            owner,
            Long.toString(grantVersion),
            node,
            takeoverFrom == null ? "" : takeoverFrom)
        .map(
            r -> {
              long epoch = ((Number) r.get(0)).longValue();
              return epoch < 0
                  ? Claim.refused(String.valueOf(r.get(3)))
                  : new Claim(
                      epoch,
                      ((Number) r.get(1)).longValue(),
                      ((Number) r.get(2)).longValue(),
                      null,
                      ((Number) r.get(4)).longValue());
            });
  }

  /**
   * Lets go of the claim {@code node} made at {@code epoch}, storing {@code ackedSeq} first if it
   * is ahead and the epoch is still current (an ack that arrived as the channel was let go); -1 for
   * none. Answers whether the claim was still held.
   */
  public Future<Boolean> release(
      Context ctx, UUID appId, String merchantId, String node, long epoch, long ackedSeq) {
    String[] keys = {key(appId, merchantId)};
    return RELEASE
        .<Long>run(
            redis,
            ctx,
            ScriptOutputType.INTEGER,
            keys,
            node,
            Long.toString(epoch),
            Long.toString(ackedSeq))
        .map(r -> r == 1);
  }

  /** A node's claim of a channel: the node's lease token and the claim's epoch. */
  public record Held(String node, long epoch) {}

  /** The channel's claim: null if none (never claimed, or released). */
  public Future<Held> held(Context ctx, UUID appId, String merchantId) {
    return redis
        .call(ctx, c -> c.hmget(key(appId, merchantId), "node", "held"))
        .map(
            kvs -> {
              String node = kvs.get(0).getValueOrElse(null);
              String epoch = kvs.get(1).getValueOrElse(null);
              return node == null || "released".equals(node) || epoch == null
                  ? null
                  : new Held(node, Long.parseLong(epoch));
            });
  }

  /** Which node token holds the channel: null if none (never claimed, or released). */
  public Future<String> holder(Context ctx, UUID appId, String merchantId) {
    return held(ctx, appId, merchantId).map(h -> h == null ? null : h.node());
  }

  /** Moves the cursor to {@code seq} if that is forward and {@code epoch} is still current. */
  public Future<CommitOutcome> commit(
      Context ctx, UUID appId, String merchantId, long epoch, long seq) {
    return commit(ctx, appId, merchantId, epoch, seq, seq);
  }

  /**
   * {@link #commit}, for a cursor that moves past events the app's event types leave out: {@code
   * prev} is the last seq at or below {@code seq} that the app was delivered.
   */
  public Future<CommitOutcome> commit(
      Context ctx, UUID appId, String merchantId, long epoch, long seq, long prev) {
    String[] keys = {key(appId, merchantId)};
    return COMMIT
        .<Long>run(
            redis,
            ctx,
            ScriptOutputType.INTEGER,
            keys,
            Long.toString(epoch),
            Long.toString(seq),
            Long.toString(prev))
        .map(CursorStore::outcome);
  }

  /** One channel's cursor commit of a {@link #commitAll} call: {@link #commit}'s arguments. */
  public record Commit(UUID appId, String merchantId, long epoch, long seq, long prev) {

    String key() {
      return CursorStore.key(appId, merchantId);
    }
  }

  /**
   * {@link #commit} for several channels with as few Redis calls as the deployment allows: one
   * script call per {@link #MAX_COMMITS_PER_CALL} channels on a single Redis; on a Redis Cluster
   * one per hash slot (the channels' keys are tagged by channel, so mostly one per channel,
   * pipelined on the connections). Each commit is fenced by its own epoch, exactly as {@link
   * #commit}. Answers one outcome per commit, in order; fails whole if any call fails.
   */
  public Future<List<CommitOutcome>> commitAll(Context ctx, List<Commit> commits) {
    List<List<Integer>> calls = new ArrayList<>();
    if (redis.cluster()) {
      Map<Integer, List<Integer>> bySlot = new HashMap<>();
      for (int i = 0; i < commits.size(); i++) {
        int slot = SlotHash.getSlot(commits.get(i).key());
        List<Integer> call = bySlot.get(slot);
        if (call == null || call.size() == MAX_COMMITS_PER_CALL) {
          call = new ArrayList<>();
          bySlot.put(slot, call);
          calls.add(call);
        }
        call.add(i);
      }
    } else {
      for (int from = 0; from < commits.size(); from += MAX_COMMITS_PER_CALL) {
        List<Integer> call = new ArrayList<>();
        for (int i = from; i < Math.min(commits.size(), from + MAX_COMMITS_PER_CALL); i++) {
          call.add(i);
        }
        calls.add(call);
      }
    }
    CommitOutcome[] outcomes = new CommitOutcome[commits.size()];
    List<Future<Void>> sent = new ArrayList<>(calls.size());
    for (List<Integer> call : calls) {
      String[] keys = new String[call.size()];
      String[] args = new String[call.size() * 3];
      for (int j = 0; j < call.size(); j++) {
        Commit c = commits.get(call.get(j));
        keys[j] = c.key();
        args[3 * j] = Long.toString(c.epoch());
        args[3 * j + 1] = Long.toString(c.seq());
        args[3 * j + 2] = Long.toString(c.prev());
      }
      sent.add(
          COMMIT_ALL
              .<List<Object>>run(redis, ctx, ScriptOutputType.MULTI, keys, args)
              .map(
                  r -> {
                    for (int j = 0; j < call.size(); j++) {
                      outcomes[call.get(j)] = outcome(((Number) r.get(j)).longValue());
                    }
                    return null;
                  }));
    }
    return Future.all(sent).map(all -> List.of(outcomes));
  }

  private static CommitOutcome outcome(long r) {
    return r == -2
        ? CommitOutcome.MISSING
        : r < 0 ? CommitOutcome.FENCED : r > 0 ? CommitOutcome.ADVANCED : CommitOutcome.UNCHANGED;
  }

  /**
   * Sets the cursor to {@code seq} (back or forward) and bumps the epoch in the same step, so no
   * ack of the old position, from any owner, can move the cursor afterwards. Returns the new epoch.
   */
  public Future<Long> rewind(
      Context ctx, UUID appId, String merchantId, long seq, long grantVersion) {
    String[] keys = {key(appId, merchantId)};
    return REWIND.run(
        redis,
        ctx,
        ScriptOutputType.INTEGER,
        keys,
        Long.toString(seq),
        Long.toString(grantVersion));
  }

  /**
   * The channel of a revoked grant ({@code grantVersion}) expires from Redis after {@code ttl},
   * unless the merchant grants the app again first (its claim lifts the expiry). Answers whether
   * the expiry was set (false: no hash of that grant).
   */
  public Future<Boolean> expireRevoked(
      Context ctx, UUID appId, String merchantId, long grantVersion, java.time.Duration ttl) {
    String[] keys = {key(appId, merchantId)};
    return EXPIRE_REVOKED
        .<Long>run(
            redis,
            ctx,
            ScriptOutputType.INTEGER,
            keys,
            Long.toString(grantVersion),
            Long.toString(ttl.toMillis()))
        .map(n -> n == 1L);
  }

  /** The stored cursor, or -1 if Redis has none for the channel. */
  public Future<Long> cursor(Context ctx, UUID appId, String merchantId) {
    return redis
        .call(ctx, c -> c.hget(key(appId, merchantId), "cursor"))
        .map(v -> v == null ? -1L : Long.parseLong(v));
  }

  /**
   * Removes every cursor hash of the app (a deleted app), found with SCAN and removed with UNLINK.
   * Returns how many were removed. SCAN walks the whole key space, whatever the app's share of it,
   * in steps of {@link #FORGET_SCAN_COUNT} keys: each step holds Redis (and every cursor commit and
   * heartbeat behind it) for as long as it takes, about 0.2 ms here against 1.8 ms for 1,000 keys a
   * step (469,000 keys, {@code INFO commandstats}, an idle box).
   */
  public Future<Long> forgetApp(Context ctx, UUID appId) {
    // '{', '}' and the uuid's characters are not glob specials
    io.lettuce.core.ScanArgs args =
        io.lettuce.core.ScanArgs.Builder.matches("gw:ch:{" + appId + ":*").limit(FORGET_SCAN_COUNT);
    return forgetFrom(ctx, io.lettuce.core.ScanCursor.INITIAL, args, 0);
  }

  /**
   * Removes every cursor hash of these apps in one walk of the key space (as {@link #forgetApp}
   * does for one): the keys of every channel pass through this node, which keeps those of these
   * apps. Returns how many were removed.
   */
  public Future<Long> forgetApps(Context ctx, java.util.Set<UUID> appIds) {
    if (appIds.isEmpty()) {
      return Future.succeededFuture(0L);
    }
    java.util.Set<String> ids = new java.util.HashSet<>();
    appIds.forEach(a -> ids.add(a.toString()));
    io.lettuce.core.ScanArgs args =
        io.lettuce.core.ScanArgs.Builder.matches("gw:ch:{*").limit(FORGET_SCAN_COUNT);
    // gw:ch:{<36-character uuid>:merchant}
    java.util.function.Predicate<String> ofThese =
        k -> k.length() > 44 && k.charAt(43) == ':' && ids.contains(k.substring(7, 43));
    return forgetFrom(ctx, io.lettuce.core.ScanCursor.INITIAL, args, ofThese, 0);
  }

  private Future<Long> forgetFrom(
      Context ctx, io.lettuce.core.ScanCursor from, io.lettuce.core.ScanArgs args, long removed) {
    return forgetFrom(ctx, from, args, k -> true, removed);
  }

  /**
   * Walks from {@code from} to the end of the key space, removing the keys {@code keep} takes. One
   * promise for the whole walk, each step started from the one before's callback: a chain of {@code
   * compose} nested thousands of steps deep (a few hundred thousand keys) overflowed the event
   * loop's stack when its last step completed, and the walk never answered.
   */
  private Future<Long> forgetFrom(
      Context ctx,
      io.lettuce.core.ScanCursor from,
      io.lettuce.core.ScanArgs args,
      java.util.function.Predicate<String> keep,
      long removed) {
    io.vertx.core.Promise<Long> done = io.vertx.core.Promise.promise();
    forgetStep(ctx, from, args, keep, removed, done);
    return done.future();
  }

  private void forgetStep(
      Context ctx,
      io.lettuce.core.ScanCursor from,
      io.lettuce.core.ScanArgs args,
      java.util.function.Predicate<String> keep,
      long removed,
      io.vertx.core.Promise<Long> done) {
    Future<io.lettuce.core.KeyScanCursor<String>> scanned;
    try {
      scanned = redis.call(ctx, c -> c.scan(from, args));
    } catch (RuntimeException e) { // thrown in a callback, it would only be logged: the walk hung
      done.tryFail(e);
      return;
    }
    scanned
        .compose(
            page -> {
              String[] keys = page.getKeys().stream().filter(keep).toArray(String[]::new);
              Future<Long> unlinked =
                  keys.length == 0
                      ? Future.succeededFuture(0L)
                      : redis.call(ctx, c -> c.unlink(keys));
              return unlinked.map(n -> java.util.Map.entry(page, n));
            })
        .onComplete(
            ar -> {
              if (ar.failed()) {
                done.fail(ar.cause());
              } else if (ar.result().getKey().isFinished()) {
                done.complete(removed + ar.result().getValue());
              } else {
                forgetStep(
                    ctx, ar.result().getKey(), args, keep, removed + ar.result().getValue(), done);
              }
            });
  }

  /**
   * Removes the cursor hashes of these channels of the app (a deleted drill's sandbox merchants),
   * one UNLINK per key so each goes to its own slot on a Redis Cluster, at most 256 at a time.
   * Returns how many existed.
   */
  public Future<Long> forget(Context ctx, UUID appId, List<String> merchantIds) {
    return eachKey(ctx, appId, merchantIds, key -> c -> c.unlink(key), 0, 0);
  }

  /**
   * Sets these channels of the app to expire from Redis after {@code ttl} (a drill's sandbox
   * merchants once it ended), one PEXPIRE per key, at most 256 at a time; a new grant's claim lifts
   * it. Returns how many existed.
   */
  public Future<Long> expire(
      Context ctx, UUID appId, List<String> merchantIds, java.time.Duration ttl) {
    return eachKey(
        ctx,
        appId,
        merchantIds,
        key -> c -> c.pexpire(key, ttl.toMillis()).thenApply(set -> set ? 1L : 0L),
        0,
        0);
  }

  /** One command on one channel's hash (its key), answering a count. */
  private interface KeyCommand
      extends java.util.function.Function<
          String,
          java.util.function.Function<
              io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands<String, String>,
              java.util.concurrent.CompletionStage<Long>>> {}

  /**
   * Runs {@code command} on the hash of each channel, one command per key so each goes to its own
   * slot on a Redis Cluster, at most 256 at a time; sums what they answer.
   */
  private Future<Long> eachKey(
      Context ctx, UUID appId, List<String> merchantIds, KeyCommand command, int from, long sum) {
    io.vertx.core.Promise<Long> done = io.vertx.core.Promise.promise();
    eachKeyStep(ctx, appId, merchantIds, command, from, sum, done);
    return done.future();
  }

  /** One page of {@link #eachKey}; the next starts from its callback (no nested chain). */
  private void eachKeyStep(
      Context ctx,
      UUID appId,
      List<String> merchantIds,
      KeyCommand command,
      int from,
      long sum,
      io.vertx.core.Promise<Long> done) {
    if (from >= merchantIds.size()) {
      done.complete(sum);
      return;
    }
    int to = Math.min(merchantIds.size(), from + 256);
    List<Future<Long>> page;
    try {
      page =
          merchantIds.subList(from, to).stream()
              .map(m -> redis.call(ctx, command.apply(key(appId, m))))
              .toList();
    } catch (RuntimeException e) { // thrown in a callback, it would only be logged: the walk hung
      done.tryFail(e);
      return;
    }
    Future.all(page)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                done.fail(ar.cause());
              } else {
                long n = page.stream().mapToLong(Future::result).sum();
                eachKeyStep(ctx, appId, merchantIds, command, to, sum + n, done);
              }
            });
  }

  /** Cursors of several channels of one app in one pipelined batch; -1 where Redis has none. */
  public Future<List<Long>> cursors(Context ctx, UUID appId, List<String> merchantIds) {
    List<Future<Long>> all = merchantIds.stream().map(m -> cursor(ctx, appId, m)).toList();
    return Future.all(all).map(cf -> all.stream().map(Future::result).toList());
  }
}
