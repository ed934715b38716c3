package io.orderpush.delivery.channel;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.persistence.events.LoggedEvent;
import io.orderpush.persistence.redis.RedisListener;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The heads this node commits, told to the other nodes of the cluster over Redis pub/sub (sharded
 * on a Redis Cluster), so a consumer on any node hears of an event ingested through any other
 * within milliseconds. Nothing is published while this node's lease view has no other live node.
 * One notice per commit group (at most {@link #MERCHANTS_PER_NOTICE} merchants each), never one per
 * event; no PostgreSQL {@code NOTIFY} on the ingest path. A notice only wakes channels, which then
 * read the log: a lost notice costs latency, never an event, and the engine's reconcile of stored
 * heads is the backstop.
 *
 * <p>Wire form: {@code {"o": node id, "h": {merchantId: head seq, ...}}}.
 */
public final class HeadNotices {

  static final int MERCHANTS_PER_NOTICE = 500;

  private final DeliveryEngine engine;
  private final RedisStore redis;
  private final String channel;
  private final String nodeId;
  private final BooleanSupplier othersLive;
  private final RedisListener listener;
  private final Counter published;
  private final Counter publishFailures;
  private final Counter received;
  private final Counter malformed;

  public HeadNotices(
      DeliveryEngine engine,
      RedisStore redis,
      String channel,
      String nodeId,
      BooleanSupplier othersLive,
      MeterRegistry registry) {
    this.engine = engine;
    this.redis = redis;
    this.channel = channel;
    this.nodeId = nodeId;
    this.othersLive = othersLive;
    this.listener =
        new RedisListener(engine.context(), redis, channel, "head notices", this::onNotice);
    String name = "gateway.delivery.head.notices";
    String help = "notices of committed heads between nodes, by outcome";
    this.published =
        Counter.builder(name).tag("outcome", "published").description(help).register(registry);
    this.publishFailures =
        Counter.builder(name).tag("outcome", "publish_failed").description(help).register(registry);
    this.received =
        Counter.builder(name).tag("outcome", "received").description(help).register(registry);
    this.malformed =
        Counter.builder(name).tag("outcome", "malformed").description(help).register(registry);
  }

  /** Subscribes; completes after the first attempt, retrying in the background. */
  public Future<Void> start() {
    return Future.<Void>future(
        p -> engine.context().runOnContext(v -> listener.start().onComplete(p)));
  }

  /**
   * Tells the other nodes the heads of a committed group, if the node's lease view has any. Any
   * thread.
   */
  public void committed(Map<String, List<LoggedEvent>> stored) {
    if (!othersLive.getAsBoolean()) {
      return;
    }
    JsonObject heads = new JsonObject();
    for (Map.Entry<String, List<LoggedEvent>> e : stored.entrySet()) {
      List<LoggedEvent> events = e.getValue();
      heads.put(e.getKey(), events.get(events.size() - 1).seq());
      if (heads.size() == MERCHANTS_PER_NOTICE) {
        publish(heads);
        heads = new JsonObject();
      }
    }
    if (!heads.isEmpty()) {
      publish(heads);
    }
  }

  private void publish(JsonObject heads) {
    String notice = new JsonObject().put("o", nodeId).put("h", heads).encode();
    redis
        .publish(engine.context(), channel, notice)
        .onSuccess(n -> published.increment())
        .onFailure(err -> publishFailures.increment());
  }

  private void onNotice(String message) {
    Map<String, Long> heads = decode(message, nodeId);
    if (heads == null) {
      malformed.increment();
    } else if (!heads.isEmpty()) {
      received.increment();
      engine.headsNoticed(heads);
    }
  }

  /** The heads of another node's notice; empty for this node's own, null if not a notice. */
  static Map<String, Long> decode(String message, String self) {
    try {
      JsonObject json = new JsonObject(message);
      if (self.equals(json.getString("o"))) {
        return Map.of();
      }
      JsonObject h = json.getJsonObject("h");
      Map<String, Long> heads = new HashMap<>(h.size() * 2);
      for (String m : h.fieldNames()) {
        heads.put(m, h.getLong(m));
      }
      return heads;
    } catch (RuntimeException notANotice) {
      return null;
    }
  }

  public Future<Void> close() {
    return Future.<Void>future(
        p -> engine.context().runOnContext(v -> listener.close().onComplete(p)));
  }
}
