package io.orderpush.delivery.control;

import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Change notices over Redis pub/sub (sharded on a Redis Cluster): publishes on the shared command
 * connection, listens on a dedicated subscribed one (Lettuce subscribes again by itself after a
 * reconnect). Writes and reads the notice's wire form, {@code
 * {"origin","kind","appId","merchantId"}}, and drops this node's own notices.
 */
final class RedisNotices {

  private static final Logger LOG = LoggerFactory.getLogger(RedisNotices.class);
  static final long RETRY_MS = 1000;

  private final Context context;
  private final RedisStore redis;
  private final ControlSettings settings;
  private final ControlMetrics metrics;
  private final Consumer<Change> sink;
  private StatefulRedisPubSubConnection<String, String> subscription;
  private long retryTimer = -1;
  private boolean closed;
  private boolean warned;

  RedisNotices(
      Context context,
      RedisStore redis,
      ControlSettings settings,
      ControlMetrics metrics,
      Consumer<Change> sink) {
    this.context = context;
    this.redis = redis;
    this.settings = settings;
    this.metrics = metrics;
    this.sink = sink;
  }

  /**
   * Subscribes; completes after the first attempt, retrying every second in the background while
   * Redis cannot be reached (the reconcile covers what is missed meanwhile). Context only.
   */
  Future<Void> start() {
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
                      context.runOnContext(v -> received(message));
                    }

                    @Override
                    public void smessage(String channel, String message) {
                      context.runOnContext(v -> received(message));
                    }
                  });
              return redis
                  .subscribe(context, conn, settings.channel())
                  .onSuccess(
                      v -> LOG.info("listening for change notices on {}", settings.channel()));
            })
        .recover(
            err -> {
              if (!warned) {
                warned = true;
                LOG.warn(
                    "cannot subscribe to change notices ({}); retrying every {} ms, changes made on"
                        + " other nodes arrive through the reconcile meanwhile",
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

  Future<Void> publish(Change change) {
    String notice = encode(settings.nodeId(), change);
    return redis
        .publish(context, settings.channel(), notice)
        .<Void>mapEmpty()
        .onSuccess(v -> metrics.published.increment())
        .onFailure(err -> metrics.publishFailures.increment());
  }

  private void received(String message) {
    Optional<Change> change = decode(message, settings.nodeId());
    if (change == null) {
      metrics.malformed.increment();
      return;
    }
    change.ifPresent(
        c -> {
          metrics.received.increment();
          sink.accept(c);
        });
  }

  Future<Void> close() {
    closed = true;
    context.owner().cancelTimer(retryTimer);
    StatefulRedisPubSubConnection<String, String> s = subscription;
    subscription = null;
    return s == null
        ? Future.succeededFuture()
        : Future.fromCompletionStage(s.closeAsync(), context).mapEmpty();
  }

  static String encode(String origin, Change c) {
    JsonObject json =
        new JsonObject()
            .put("origin", origin)
            .put("kind", c.kind().name())
            .put("appId", c.appId().toString());
    c.merchantId().ifPresent(m -> json.put("merchantId", m));
    return json.encode();
  }

  /** The change, empty if it is this node's own, null if the message is not a notice. */
  static Optional<Change> decode(String message, String self) {
    try {
      JsonObject json = new JsonObject(message);
      if (self.equals(json.getString("origin"))) {
        return Optional.empty();
      }
      return Optional.of(
          new Change(
              Change.Kind.valueOf(json.getString("kind")),
              UUID.fromString(json.getString("appId")),
              Optional.ofNullable(json.getString("merchantId"))));
    } catch (RuntimeException notANotice) {
      return null;
    }
  }
}
