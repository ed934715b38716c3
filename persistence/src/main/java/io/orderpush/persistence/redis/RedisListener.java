package io.orderpush.persistence.redis;

import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.vertx.core.Context;
import io.vertx.core.Future;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Listens on one pub/sub channel (sharded on a Redis Cluster, see {@link RedisStore#publish}) over
 * a dedicated connection, handing each message to {@code sink} on {@code context}. Lettuce
 * subscribes again by itself after a reconnect; until the first subscription succeeds it is retried
 * every second. Messages sent while nobody listens are lost: every user has a backstop.
 */
public final class RedisListener {

  private static final Logger LOG = LoggerFactory.getLogger(RedisListener.class);
  static final long RETRY_MS = 1000;

  private final Context context;
  private final RedisStore redis;
  private final String channel;
  private final String what;
  private final Consumer<String> sink;
  private StatefulRedisPubSubConnection<String, String> subscription;
  private long retryTimer = -1;
  private boolean closed;
  private boolean warned;

  /**
   * @param what what the messages are, for the log ("change notices")
   */
  public RedisListener(
      Context context, RedisStore redis, String channel, String what, Consumer<String> sink) {
    this.context = context;
    this.redis = redis;
    this.channel = channel;
    this.what = what;
    this.sink = sink;
  }

  /**
   * Subscribes; completes after the first attempt, retrying every second in the background while
   * Redis cannot be reached. Context only.
   */
  public Future<Void> start() {
    return redis
        .connectPubSub(context)
        .compose(
            conn -> {
              if (closed) {
                conn.closeAsync();
                return Future.<Void>succeededFuture();
              }
              subscription = conn;
              conn.addListener(
                  new RedisPubSubAdapter<>() {
                    @Override
                    public void message(String channel, String message) {
                      context.runOnContext(v -> sink.accept(message));
                    }

                    @Override
                    public void smessage(String channel, String message) {
                      context.runOnContext(v -> sink.accept(message));
                    }
                  });
              return redis
                  .subscribe(context, conn, channel)
                  .onSuccess(v -> LOG.info("listening for {} on {}", what, channel));
            })
        .recover(
            err -> {
              if (!warned) {
                warned = true;
                LOG.warn(
                    "cannot subscribe to {} ({}); retrying every {} ms, the backstop covers what is"
                        + " missed meanwhile",
                    what,
                    err.toString(),
                    RETRY_MS);
              }
              if (subscription != null) {
                subscription.closeAsync();
                subscription = null;
              }
              if (!closed) {
                retryTimer = context.owner().setTimer(RETRY_MS, t -> start());
              }
              return Future.succeededFuture();
            });
  }

  public Future<Void> close() {
    closed = true;
    context.owner().cancelTimer(retryTimer);
    StatefulRedisPubSubConnection<String, String> s = subscription;
    subscription = null;
    return s == null
        ? Future.succeededFuture()
        : Future.fromCompletionStage(s.closeAsync(), context).mapEmpty();
  }
}
