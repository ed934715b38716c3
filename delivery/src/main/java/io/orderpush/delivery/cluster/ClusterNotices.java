package io.orderpush.delivery.cluster;

import io.orderpush.persistence.redis.RedisListener;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Ownership notices over Redis pub/sub (sharded on a Redis Cluster): "the live nodes changed" (a
 * node joined or left) and "the WebSocket connections of an app changed". A notice only says where
 * to look again; a lost one costs the periodic refresh's delay, never correctness. Wire form {@code
 * {"o": origin, "t": type, "app": appId?}}; a process drops its own. (New events reach the other
 * nodes through {@code HeadNotices}.)
 */
public final class ClusterNotices {

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
  private final RedisListener listener;

  public ClusterNotices(Context context, RedisStore redis, ClusterSettings settings) {
    this.context = context;
    this.redis = redis;
    this.channel = settings.noticeChannel();
    // what is missed while nobody listens, the periodic refresh carries
    this.listener = new RedisListener(context, redis, channel, "ownership notices", this::received);
  }

  /** Listeners run on the context. */
  public void onNotice(Consumer<Notice> listener) {
    listeners.add(listener);
  }

  /** Subscribes; completes after the first attempt, retrying in the background. Context only. */
  public Future<Void> start() {
    return listener.start();
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
    return listener.close();
  }
}
