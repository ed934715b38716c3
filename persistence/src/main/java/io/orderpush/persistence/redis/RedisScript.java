package io.orderpush.persistence.redis;

import io.lettuce.core.RedisNoScriptException;
import io.lettuce.core.ScriptOutputType;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A Lua script run by its SHA-1 ({@code EVALSHA}), so each call carries the digest rather than the
 * script. A server that does not hold it ({@code NOSCRIPT}: a restart, a failover, a cluster node
 * that never saw it) gets the whole script once through {@code EVAL}, which also caches it there.
 * On a cluster the call goes to the node of {@code KEYS[1]}'s slot; every key of one call must
 * share that slot (a hash tag).
 */
public final class RedisScript {

  private final String text;
  private final String sha;

  public RedisScript(String text) {
    this.text = text;
    try {
      this.sha =
          HexFormat.of()
              .formatHex(
                  MessageDigest.getInstance("SHA-1").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-1", e);
    }
  }

  /** The digest Redis knows the script by. */
  public String sha() {
    return sha;
  }

  /** Runs the script; completes on {@code ctx}. */
  public <T> Future<T> run(
      RedisStore redis, Context ctx, ScriptOutputType type, String[] keys, String... args) {
    return redis
        .<T>call(ctx, c -> c.evalsha(sha, type, keys, args))
        .recover(
            err ->
                err instanceof RedisNoScriptException
                        || String.valueOf(err.getMessage()).startsWith("NOSCRIPT")
                    ? redis
                        .<T>call(ctx, c -> c.eval(text, type, keys, args))
                        .onSuccess(v -> redis.scriptReloaded())
                    : Future.failedFuture(err));
  }
}
