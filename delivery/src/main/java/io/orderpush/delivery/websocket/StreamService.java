package io.orderpush.delivery.websocket;

import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.channel.DeliveryEngine;
import io.orderpush.delivery.channel.GrantReads;
import io.orderpush.persistence.apps.AppTokens;
import io.orderpush.persistence.apps.Grant;
import io.orderpush.persistence.apps.GrantStore;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.http.ServerWebSocket;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * WebSocket push: accepts authenticated connections into their app's consumer group. The groups and
 * connections are confined to the delivery engine's context.
 */
public final class StreamService {

  private final DeliveryEngine engine;
  private final GrantStore grants;
  private static final Logger LOG = LoggerFactory.getLogger(StreamService.class);

  private final StreamSettings settings;
  private final StreamMetrics metrics;
  private final Map<UUID, ConsumerGroup> groups = new HashMap<>();
  private final Set<StreamConnection> connections = new LinkedHashSet<>();

  /** Apps frozen or deleted, with the error code their connections get. Engine context. */
  private final Map<UUID, Stopped> stopped = new HashMap<>();

  private record Stopped(String code, long atNanos) {
    /**
     * Whether a connection whose upgrade found the app active from {@code checkedAtNanos} on is
     * refused.
     */
    boolean refuses(long checkedAtNanos) {
      return checkedAtNanos - atNanos <= 0;
    }
  }

  /**
   * Each app's tokens as last read after a rotation, with when the read started, kept as long as an
   * upgrade can take: a connection whose lookup started before the read and that joins after it
   * gets the rotation's verdict too. Engine context.
   */
  private final Map<UUID, Tokens> tokens = new HashMap<>();

  private record Tokens(AppTokens stored, long readAtNanos) {}

  public static final String APP_FROZEN = "app_frozen";
  public static final String APP_DELETED = "app_deleted";
  static final long STOPPED_MEMORY_MS = 120_000;

  /**
   * Apps whose last connection here closed, with a cluster: this node's entries in their registry
   * hash are removed again every lease until none is left. A removal that failed, or an announce's
   * write that landed after the leave's removal, would otherwise leave a member on a live node that
   * the other nodes assign channels to and nobody delivers. Engine context.
   */
  private final Map<UUID, Integer> departed = new HashMap<>();

  /**
   * Reads in a row that found none of this node's entries before an app leaves {@link #departed}:
   * two, a lease apart, so that an announce still on its way when the group went (its removal
   * answered, its write not yet) cannot land after the last look.
   */
  static final int CLEAN_READS = 2;

  private ConsumerGroup.Cluster cluster = ConsumerGroup.Cluster.ALONE;
  private long refreshTimer = -1;

  /** connections.size(), published for the gauge (which reads from another thread). */
  private volatile int open;

  /**
   * Open connections per app here, kept on the engine context and read from the upgrades' threads:
   * past {@link StreamSettings#maxConnectionsPerApp} an upgrade is refused before it is accepted.
   */
  private final java.util.concurrent.ConcurrentHashMap<UUID, Integer> perApp =
      new java.util.concurrent.ConcurrentHashMap<>();

  public static final String TOO_MANY_CONNECTIONS = "too_many_connections";

  public StreamService(
      DeliveryEngine engine, GrantStore grants, StreamSettings settings, MeterRegistry registry) {
    this.engine = engine;
    this.grants = grants;
    this.settings = settings;
    this.metrics = new StreamMetrics(registry, () -> open);
  }

  /**
   * Makes every app's consumer group span the nodes: connections are registered in Redis, groups
   * are assigned over the connections of every live node, and refreshed when another node tells of
   * a change, when the live nodes change, and every lease as a backstop. When this node loses its
   * lease, every connection here is closed (1001): its clients reconnect, to any node. Call before
   * accepting connections. Any thread.
   */
  public void useCluster(
      io.orderpush.delivery.cluster.NodeLease lease,
      io.orderpush.delivery.cluster.GroupRegistry registry,
      io.orderpush.delivery.cluster.ClusterNotices notices) {
    cluster = new ConsumerGroup.Cluster(lease, registry, notices);
    lease.listen(
        new io.orderpush.delivery.cluster.NodeLease.Listener() {
          @Override
          public void lost() {
            List.copyOf(connections)
                .forEach(
                    c -> c.close(StreamConnection.GOING_AWAY, "node lost its lease, reconnect"));
          }

          @Override
          public void gained() {
            groups.values().forEach(g -> g.announce(List.of()).onComplete(x -> g.refresh()));
          }

          @Override
          public void viewChanged() {
            groups.values().forEach(ConsumerGroup::refresh);
          }
        });
    notices.onNotice(
        n -> {
          if (io.orderpush.delivery.cluster.ClusterNotices.GROUP.equals(n.type())) {
            ConsumerGroup g = groups.get(n.appId());
            if (g != null) {
              g.refresh();
            }
          }
        });
    long every = lease.settings().lease().toMillis();
    engine
        .context()
        .runOnContext(
            v ->
                refreshTimer =
                    engine
                        .vertx()
                        .setPeriodic(
                            every,
                            every,
                            id -> {
                              List.copyOf(groups.values())
                                  .forEach(g -> g.announce(List.of()).onComplete(x -> g.refresh()));
                              List.copyOf(departed.keySet()).forEach(this::clearDeparted);
                            }));
  }

  public StreamSettings settings() {
    return settings;
  }

  /**
   * Whether another connection of the app may open here ({@link
   * StreamSettings#maxConnectionsPerApp}); checked before the upgrade is accepted, and again,
   * exactly, when the connection joins. Any thread.
   */
  public boolean roomFor(UUID appId) {
    if (refusing) {
      return false;
    }
    return perApp.getOrDefault(appId, 0) < settings.maxConnectionsPerApp();
  }

  /**
   * Takes over an upgraded socket of an authenticated app; call on the socket's context. The app
   * was found active by a lookup that started at {@code checkedAtNanos} ({@link System#nanoTime}):
   * a lookup that started after this node stopped the app saw it unfrozen since, even if this node
   * has not heard of that yet. The upgrade presented the token hashed as {@code tokenHash}, valid
   * until {@code tokenValidUntil} ({@link Instant#MAX} for the current token; the grace period's
   * end for the previous one): the connection is closed with {@code token_expired} then, or when a
   * rotation heard of later ({@link #tokensRotated}) ends it. {@code abort} closes the socket at
   * once, dropping what is queued: for a closed connection whose client does not read even the
   * close frame (null: none).
   */
  public void accept(
      ServerWebSocket ws,
      UUID appId,
      long checkedAtNanos,
      byte[] tokenHash,
      Instant tokenValidUntil,
      Runnable abort) {
    metrics.opened.increment();
    StreamConnection conn = new StreamConnection(ws, appId, this, engine, settings, metrics);
    conn.checkedAtNanos = checkedAtNanos;
    conn.tokenHash = tokenHash;
    conn.abort = abort;
    conn.open(tokenValidUntil);
  }

  void attach(StreamConnection conn) {
    Stopped mark = stopped.get(conn.appId());
    if (mark != null && !mark.refuses(conn.checkedAtNanos)) {
      stopped.remove(conn.appId(), mark); // found active after we stopped it: unfrozen since
      mark = null;
    }
    if (mark != null) {
      String refused = mark.code;
      // its upgrade checked the app just before it was frozen or deleted
      conn.send(StreamMessages.error(refused, stoppedMessage(refused)));
      conn.close(StreamConnection.POLICY_VIOLATION, refused);
      return;
    }
    Tokens rotated = tokens.get(conn.appId());
    if (rotated != null
        && conn.tokenHash != null
        && conn.checkedAtNanos - rotated.readAtNanos < 0) {
      // its upgrade's lookup started before the last rotation heard of here was read
      conn.tokenValidUntil(rotated.stored().validUntil(conn.tokenHash));
      if (conn.isClosed()) {
        return;
      }
    }
    if (refusing) {
      conn.close(StreamConnection.GOING_AWAY, "server shutting down");
      return;
    }
    int ofApp = perApp.getOrDefault(conn.appId(), 0);
    if (ofApp >= settings.maxConnectionsPerApp()) {
      // upgrades accepted at once on several event loops, past the check before each
      metrics.tooMany.increment();
      conn.send(
          StreamMessages.error(
              TOO_MANY_CONNECTIONS,
              "this app has "
                  + ofApp
                  + " connections open on this node, the most it may have; close some first"));
      conn.close(StreamConnection.POLICY_VIOLATION, TOO_MANY_CONNECTIONS);
      return;
    }
    perApp.put(conn.appId(), ofApp + 1);
    connections.add(conn);
    open = connections.size();
    departed.remove(conn.appId()); // the group's own announces remove its stale entries
    groups
        .computeIfAbsent(
            conn.appId(), id -> new ConsumerGroup(id, engine, grants, metrics, cluster))
        .join(conn);
  }

  void detach(StreamConnection conn) {
    if (connections.remove(conn)) {
      perApp.computeIfPresent(conn.appId(), (id, n) -> n > 1 ? n - 1 : null);
    }
    open = connections.size();
    ConsumerGroup g = groups.get(conn.appId());
    if (g != null) {
      g.leave(conn);
      if (g.isEmpty()) {
        groups.remove(conn.appId());
        if (cluster.registry() != null) {
          departed.put(conn.appId(), 0);
          retryDepartedSoon(); // a leave whose removal failed (Redis away) is not left a lease
        }
      }
    }
  }

  /**
   * Removes this node's entries from the registry of an app it has no connection of any more, and
   * forgets the app once none is left (then the others are told, so they assign again).
   */
  private void clearDeparted(UUID appId) {
    clearDeparted(appId, true);
  }

  /**
   * As {@link #clearDeparted(UUID)}; a read that finds nothing counts towards the {@link
   * #CLEAN_READS} only if {@code counting} (the reads a lease apart, not the quick ones).
   */
  private void clearDeparted(UUID appId, boolean counting) {
    String token = cluster.lease().token();
    String self = cluster.lease().settings().nodeId();
    cluster
        .registry()
        .members(appId)
        .compose(
            all -> {
              List<String> ours =
                  all.entrySet().stream()
                      .filter(
                          e ->
                              e.getValue().equals(token)
                                  || io.orderpush.delivery.cluster.NodeLease.nodeIdOf(e.getValue())
                                      .equals(self))
                      .map(Map.Entry::getKey)
                      .toList();
              if (groups.containsKey(appId)) {
                departed.remove(appId); // connected again: its group cleans up
                return Future.<Void>succeededFuture();
              }
              if (ours.isEmpty()) {
                if (counting && departed.merge(appId, 1, Integer::sum) >= CLEAN_READS) {
                  departed.remove(appId);
                }
                return Future.<Void>succeededFuture();
              }
              departed.put(appId, 0);
              LOG.info(
                  "removing {} stale connection(s) of app {} from the group registry",
                  ours.size(),
                  appId);
              return cluster
                  .registry()
                  .unregister(appId, ours)
                  .compose(
                      v ->
                          cluster
                              .notices()
                              .publish(io.orderpush.delivery.cluster.ClusterNotices.GROUP, appId));
            })
        .onFailure(err -> engine.context().runOnContext(v -> retryDepartedSoon()))
        .otherwiseEmpty();
  }

  /**
   * Looks again in a second, not a lease later, at the apps whose last connection here closed: one
   * whose removal from the registry failed (Redis away) is still assigned channels by the other
   * nodes, and nobody delivers them. Again each second while Redis does not answer. One timer for
   * the node.
   */
  private void retryDepartedSoon() {
    if (departedRetry < 0) {
      departedRetry =
          engine
              .vertx()
              .setTimer(
                  DEPARTED_RETRY_MS,
                  t -> {
                    departedRetry = -1;
                    List.copyOf(departed.keySet()).forEach(a -> clearDeparted(a, false));
                  });
    }
  }

  static final long DEPARTED_RETRY_MS = 1000;

  /** The pending {@link #retryDepartedSoon} timer, or -1. Engine context. */
  private long departedRetry = -1;

  /**
   * A merchant granted the app, as read at {@code mark} ({@link GrantReads#start}): its channel
   * joins the app's group on this node, unless a later read was applied to it. Any thread.
   */
  public Future<Void> granted(Grant grant, long mark) {
    Promise<Void> done = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              try {
                // recorded even with no group here: an older read must not add it back
                boolean newest = engine.grantReads().apply(grant.appId(), grant.merchantId(), mark);
                ConsumerGroup g = groups.get(grant.appId());
                if (g != null && newest) {
                  g.granted(grant);
                }
              } finally {
                done.complete();
              }
            });
    return done.future();
  }

  /**
   * A merchant revoked the app, as read at {@code mark}: delivery of that channel stops at once,
   * unless a later read was applied to it. Any thread.
   */
  public Future<Void> revoked(UUID appId, String merchantId, long mark) {
    Promise<Void> done = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              try {
                boolean newest = engine.grantReads().apply(appId, merchantId, mark);
                ConsumerGroup g = groups.get(appId);
                if (g != null && newest) {
                  g.revoked(merchantId);
                }
              } finally {
                done.complete();
              }
            });
    return done.future();
  }

  /**
   * The app was frozen ({@code app_frozen}) or deleted ({@code app_deleted}): each of its
   * connections here gets an {@code error} with that code and is closed (1008), and so is any
   * connection whose upgrade was checked just before, until {@link #appActive}. Any thread.
   */
  public Future<Void> appStopped(UUID appId, String code) {
    Promise<Void> done = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              Stopped mark = new Stopped(code, System.nanoTime());
              stopped.put(appId, mark);
              if (APP_DELETED.equals(code)) {
                // a deleted app never comes back: remember it only as long as an upgrade can take
                engine.vertx().setTimer(STOPPED_MEMORY_MS, t -> stopped.remove(appId, mark));
              }
              ConsumerGroup g = groups.get(appId);
              if (g != null) {
                for (StreamConnection c : g.members()) {
                  c.send(StreamMessages.error(code, stoppedMessage(code)));
                  c.close(StreamConnection.POLICY_VIOLATION, code);
                }
              }
              done.complete();
            });
    return done.future();
  }

  /**
   * The app's tokens as stored, read from {@code readAtNanos} on (after a rotation): each of its
   * connections here opened with a token from before that read stays until its token's grace period
   * ends, and is closed with {@code token_expired} then (at once if its token is no longer either
   * of the two). Any thread.
   */
  public Future<Void> tokensRotated(UUID appId, AppTokens stored, long readAtNanos) {
    Promise<Void> done = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              try {
                Tokens known = tokens.get(appId);
                if (known == null || readAtNanos - known.readAtNanos > 0) {
                  Tokens latest = new Tokens(stored, readAtNanos);
                  tokens.put(appId, latest);
                  engine.vertx().setTimer(STOPPED_MEMORY_MS, t -> tokens.remove(appId, latest));
                  ConsumerGroup g = groups.get(appId);
                  if (g != null) {
                    for (StreamConnection c : List.copyOf(g.members())) {
                      if (c.tokenHash != null && c.checkedAtNanos - readAtNanos < 0) {
                        c.tokenValidUntil(stored.validUntil(c.tokenHash));
                      }
                    }
                  }
                }
                done.complete();
              } catch (RuntimeException e) {
                done.fail(e);
              }
            });
    return done.future();
  }

  /**
   * The app is active, as read from {@code readAt} (System.nanoTime) on: its connections are
   * accepted again, unless this node stopped it after that read started. Any thread.
   */
  public Future<Void> appActive(UUID appId, long readAt) {
    Promise<Void> done = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              Stopped mark = stopped.get(appId);
              if (mark != null && mark.atNanos() - readAt < 0) {
                stopped.remove(appId, mark);
              }
              done.complete();
            });
    return done.future();
  }

  /**
   * The code ({@code app_frozen}, {@code app_deleted}) a connection of the app would be closed with
   * here if its upgrade found the app active from {@code checkedAtNanos} on, or empty if it would
   * be taken. Changes nothing. Any thread.
   */
  public Future<Optional<String>> stoppedFor(UUID appId, long checkedAtNanos) {
    Promise<Optional<String>> done = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              Stopped mark = stopped.get(appId);
              done.complete(
                  mark != null && mark.refuses(checkedAtNanos)
                      ? Optional.of(mark.code())
                      : Optional.empty());
            });
    return done.future();
  }

  /**
   * Brings the app's group on this node, if any, in line with the stored grants (a grant change
   * whose notice this node missed). Any thread.
   */
  public Future<Void> resync(UUID appId) {
    Promise<Void> done = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              ConsumerGroup g = groups.get(appId);
              (g == null ? Future.<Void>succeededFuture() : g.resync()).onComplete(done);
            });
    return done.future();
  }

  private static String stoppedMessage(String code) {
    return APP_DELETED.equals(code) ? "this app was deleted" : "this app is frozen";
  }

  /**
   * The node is stopping: no new connection is taken ({@link #accepting}), one that raced past its
   * upgrade's check is closed with 1001 as it joins. Any thread.
   */
  public void refuseNew() {
    refusing = true;
  }

  /** False once the node is stopping ({@link #refuseNew}). Any thread. */
  public boolean accepting() {
    return !refusing;
  }

  private volatile boolean refusing;

  /** Closes every connection with 1001 (going away); clients reconnect to another node. */
  public Future<Void> close() {
    Promise<Void> done = Promise.promise();
    engine
        .context()
        .runOnContext(
            v -> {
              refusing = true;
              engine.vertx().cancelTimer(refreshTimer);
              if (departedRetry >= 0) {
                engine.vertx().cancelTimer(departedRetry);
              }
              List.copyOf(connections)
                  .forEach(c -> c.close(StreamConnection.GOING_AWAY, "server shutting down"));
              done.complete();
            });
    return done.future();
  }
}
