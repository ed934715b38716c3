package io.orderpush.delivery.websocket;

import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.channel.DeliveryEngine;
import io.orderpush.persistence.apps.Grant;
import io.orderpush.persistence.apps.GrantStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.ServerWebSocket;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * WebSocket push: accepts authenticated connections into their app's consumer group. The groups and
 * connections are confined to the delivery engine's context.
 */
public final class StreamService {

  private final DeliveryEngine engine;
  private final GrantStore grants;
  private final StreamSettings settings;
  private final StreamMetrics metrics;
  private final Map<UUID, ConsumerGroup> groups = new HashMap<>();
  private final Set<StreamConnection> connections = new LinkedHashSet<>();

  /** connections.size(), published for the gauge (which reads from another thread). */
  private volatile int open;

  public StreamService(
      DeliveryEngine engine, GrantStore grants, StreamSettings settings, MeterRegistry registry) {
    this.engine = engine;
    this.grants = grants;
    this.settings = settings;
    this.metrics = new StreamMetrics(registry, () -> open);
  }

  public StreamSettings settings() {
    return settings;
  }

  /** Takes over an upgraded socket of an authenticated app. Call on the socket's context. */
  public void accept(ServerWebSocket ws, UUID appId) {
    metrics.opened.increment();
    new StreamConnection(ws, appId, this, engine, settings, metrics).open();
  }

  void attach(StreamConnection conn) {
    connections.add(conn);
    open = connections.size();
    groups
        .computeIfAbsent(conn.appId(), id -> new ConsumerGroup(id, engine, grants, metrics))
        .join(conn);
  }

  void detach(StreamConnection conn) {
    connections.remove(conn);
    open = connections.size();
    ConsumerGroup g = groups.get(conn.appId());
    if (g != null) {
      g.leave(conn);
      if (g.isEmpty()) {
        groups.remove(conn.appId());
      }
    }
  }

  /** A merchant granted the app: its channel joins the app's group on this node. Any thread. */
  public void granted(Grant grant) {
    engine
        .context()
        .runOnContext(
            v -> {
              ConsumerGroup g = groups.get(grant.appId());
              if (g != null) {
                g.granted(grant);
              }
            });
  }

  /** A merchant revoked the app: delivery of that channel stops at once. Any thread. */
  public void revoked(UUID appId, String merchantId) {
    engine
        .context()
        .runOnContext(
            v -> {
              ConsumerGroup g = groups.get(appId);
              if (g != null) {
                g.revoked(merchantId);
              }
            });
  }

  /** Closes every connection with 1001 (going away); clients reconnect to another node. */
  public Future<Void> close() {
    Promise<Void> done = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              List.copyOf(connections)
                  .forEach(c -> c.close(StreamConnection.GOING_AWAY, "server shutting down"));
              done.complete();
            });
    return done.future();
  }
}
