package io.orderpush.delivery.control;

import io.orderpush.persistence.redis.RedisListener;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * Change notices over Redis pub/sub (sharded on a Redis Cluster): publishes on the shared command
 * connection, listens on a dedicated subscribed one (Lettuce subscribes again by itself after a
 * reconnect). Writes and reads the notice's wire form, {@code
 * {"origin","kind","appId","merchantId"}}, and drops this node's own notices.
 */
final class RedisNotices {

  private final Context context;
  private final RedisStore redis;
  private final ControlSettings settings;
  private final ControlMetrics metrics;
  private final Consumer<Change> sink;
  private final RedisListener listener;

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
    // What is missed while nobody listens arrives through the reconcile.
    this.listener =
        new RedisListener(context, redis, settings.channel(), "change notices", this::received);
  }

  /** Subscribes; completes after the first attempt, retrying in the background. Context only. */
  Future<Void> start() {
    return listener.start();
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
    return listener.close();
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
