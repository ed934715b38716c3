package io.orderpush.persistence.redis;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.orderpush.persistence.PersistenceException;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shared Lettuce connection (Lettuce multiplexes commands over it), used through the async API
 * only and bridged to Vert.x futures so no event loop ever blocks on Redis.
 *
 * <p>The gateway starts without Redis (ingest does not need it): until the first connection
 * succeeds, it is retried every second and commands fail at once with {@link
 * RedisUnavailableException}. Once connected, Lettuce reconnects by itself and rejects commands
 * while Redis is away.
 */
public final class RedisStore {

  private static final Logger LOG = LoggerFactory.getLogger(RedisStore.class);
  static final long RETRY_MS = 1000;

  private final Vertx vertx;
  private final RedisSettings settings;
  private final RedisClient client;
  private final RedisURI uri;
  private volatile StatefulRedisConnection<String, String> connection;
  private volatile boolean closed;
  private long retryTimer = -1;

  private RedisStore(Vertx vertx, RedisSettings settings) {
    this.vertx = vertx;
    this.settings = settings;
    this.uri = RedisURI.create(settings.url());
    uri.setTimeout(settings.commandTimeout());
    this.client = RedisClient.create(uri);
    client.setOptions(
        ClientOptions.builder()
            .timeoutOptions(TimeoutOptions.enabled(settings.commandTimeout()))
            // While Redis is away, fail commands at once instead of queueing them without bound.
            .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
            .build());
  }

  /**
   * Connects, waiting for the first attempt only; if Redis is down it keeps trying in the
   * background.
   */
  public static Future<RedisStore> connect(Vertx vertx, RedisSettings settings) {
    RedisStore store = new RedisStore(vertx, settings);
    return store
        .attempt()
        .transform(
            ar -> {
              if (ar.failed()) {
                LOG.warn(
                    "Redis at {} is not answering ({}); delivery waits for it, ingest goes on",
                    settings.redacted(),
                    ar.cause().getMessage());
                store.scheduleRetry();
              }
              return Future.succeededFuture(store);
            });
  }

  private Future<Void> attempt() {
    return Future.fromCompletionStage(
            client.connectAsync(StringCodec.UTF8, uri), vertx.getOrCreateContext())
        .map(
            conn -> {
              if (closed) {
                conn.closeAsync();
              } else {
                connection = conn;
                LOG.info("connected to Redis at {}", settings.redacted());
              }
              return null;
            });
  }

  private void scheduleRetry() {
    if (!closed) {
      retryTimer = vertx.setTimer(RETRY_MS, t -> attempt().onFailure(err -> scheduleRetry()));
    }
  }

  public boolean connected() {
    StatefulRedisConnection<String, String> c = connection;
    return c != null && c.isOpen();
  }

  /** Runs one command; completes on {@code ctx}, or fails at once while Redis was never reached. */
  public <T> Future<T> call(
      Context ctx, Function<RedisAsyncCommands<String, String>, CompletionStage<T>> command) {
    StatefulRedisConnection<String, String> c = connection;
    if (c == null) {
      return Future.failedFuture(
          new RedisUnavailableException("Redis at " + settings.redacted() + " is not connected"));
    }
    return Future.fromCompletionStage(command.apply(c.async()), ctx);
  }

  /**
   * A dedicated publish/subscribe connection (a subscribed connection runs no other command);
   * Lettuce subscribes it again by itself after a reconnect. The caller closes it.
   */
  public Future<StatefulRedisPubSubConnection<String, String>> connectPubSub(Context ctx) {
    return Future.fromCompletionStage(client.connectPubSubAsync(StringCodec.UTF8, uri), ctx);
  }

  /** PING, completing on the caller's context. */
  public Future<Void> ping(Vertx vertx) {
    return call(vertx.getOrCreateContext(), RedisAsyncCommands::ping).mapEmpty();
  }

  public Future<Void> close(Vertx vertx) {
    closed = true;
    if (retryTimer >= 0) {
      vertx.cancelTimer(retryTimer);
    }
    StatefulRedisConnection<String, String> c = connection;
    Future<Void> closing =
        c == null
            ? Future.succeededFuture()
            : Future.fromCompletionStage(c.closeAsync(), vertx.getOrCreateContext()).mapEmpty();
    return closing
        .transform(
            v -> Future.fromCompletionStage(client.shutdownAsync(), vertx.getOrCreateContext()))
        .mapEmpty();
  }

  /** Redis has not been reached since startup. */
  public static final class RedisUnavailableException extends PersistenceException {
    public RedisUnavailableException(String message) {
      super(message);
    }
  }
}
