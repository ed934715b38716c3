package io.orderpush.delivery.cluster;

import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Ownership notices over Redis pub/sub (sharded on a Redis Cluster): "the live nodes changed" (a
 * node joined or left) and "the WebSocket connections of an app changed". A notice only says where
 * to look again; a lost one costs the periodic refresh's delay, never correctness. Wire form {@code
 * {"o": origin, "t": type, "app": appId?}}; a process drops its own.
 */
public final class ClusterNotices {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterNotices.class);
  static final long RETRY_MS = 1000;

  /** Type: a node joined or left. */
  public static final String NODES = "nodes";

  /** Type: the app's WebSocket connections changed. */
  public static final String GROUP = "group";

  /** One notice. */
  public record Notice(String type, UUID appId) {}

  private final Context context;
  private final RedisStore redis;
  private final String channel;
  private final String origin = UUID.randomUUID().toString();
  private final List<Consumer<Notice>> listeners = new CopyOnWriteArrayList<>();
  private StatefulRedisPubSubConnection<String, String> subscription;
  private long retryTimer = -1;
  private boolean closed;
  private boolean warned;

  public ClusterNotices(Context context, RedisStore redis, ClusterSettings settings) {
    this.context = context;
    this.redis = redis;
    this.channel = settings.noticeChannel();
  }

  /** Listeners run on the context. */
  public void onNotice(Consumer<Notice> listener) {
    listeners.add(listener);
  }

  /** Subscribes; completes after the first attempt, retrying in the background. Context only. */
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
                    public void message(String ch, String message) {
                      context.runOnContext(v -> received(message));
                    }

                    @Override
                    public void smessage(String ch, String message) {
                      context.runOnContext(v -> received(message));
                    }
                  });
              return redis.subscribe(context, conn, channel);
            })
        .recover(
            err -> {
              if (!warned) {
                warned = true;
                LOG.warn(
                    "cannot subscribe to ownership notices ({}); retrying every {} ms, the"
                        + " periodic refresh carries the changes meanwhile",
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

  /** Tells the other nodes; a failure is ignored (the periodic refresh covers it). */
  public Future<Void> publish(String type, UUID appId) {
    JsonObject json = new JsonObject().put("o", origin).put("t", type);
    if (appId != null) {
      json.put("app", appId.toString());
    }
    return redis.publish(context, channel, json.encode()).<Void>mapEmpty().otherwiseEmpty();
  }

  private void received(String message) {
    Notice n;
    try {
      JsonObject json = new JsonObject(message);
      if (origin.equals(json.getString("o"))) {
        return;
      }
      String app = json.getString("app");
      n = new Notice(json.getString("t"), app == null ? null : UUID.fromString(app));
    } catch (RuntimeException notANotice) {
      return;
    }
    listeners.forEach(l -> l.accept(n));
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
