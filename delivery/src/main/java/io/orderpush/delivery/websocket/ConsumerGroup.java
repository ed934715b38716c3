package io.orderpush.delivery.websocket;

import io.orderpush.delivery.channel.Channel;
import io.orderpush.delivery.channel.DeliveryEngine;
import io.orderpush.delivery.channel.GrantReads;
import io.orderpush.delivery.cluster.ClusterNotices;
import io.orderpush.delivery.cluster.GroupRegistry;
import io.orderpush.delivery.cluster.NodeLease;
import io.orderpush.delivery.cluster.NodeLease.Liveness;
import io.orderpush.delivery.cluster.Rendezvous;
import io.orderpush.persistence.apps.Grant;
import io.orderpush.persistence.apps.GrantStore;
import io.vertx.core.Future;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's part of one app's consumer group. The group is every open connection of the app on
 * any node (registered in Redis by {@link GroupRegistry}); each channel has at most one connection,
 * every connection a fair share (sizes differ by at most one). Every node computes the same
 * assignment from the same members ({@link Rendezvous#balanced}) and acts on its own connections:
 * it gives them their channels and lets go of those now assigned elsewhere; the claim in Redis
 * waits until the previous holder let go (or died). Confined to the delivery engine's context.
 */
final class ConsumerGroup {

  private static final Logger LOG = LoggerFactory.getLogger(ConsumerGroup.class);
  static final int GRANT_PAGE = 1000;

  private final UUID appId;
  private final DeliveryEngine engine;
  private final GrantStore grants;
  private final StreamMetrics metrics;
  private final List<StreamConnection> members = new ArrayList<>();
  private final Map<String, Channel> channels = new HashMap<>();

  /** Grant changes that arrive while the grants are still loading, applied after. */
  private final List<Runnable> pending = new ArrayList<>();

  private boolean loading;
  private boolean loaded;

  /** The group's connections on every node, as last read from Redis (id to node token). */
  private Map<String, String> everywhere = Map.of();

  /** The members of the last assignment: a refresh that finds the same ones changes nothing. */
  private List<String> assignedOver = List.of();

  /** Reads of the registry started; only the newest one's answer counts. */
  private int reads;

  private final Cluster cluster;

  /** How a group reaches the other nodes; {@link #ALONE} for a node by itself. */
  record Cluster(NodeLease lease, GroupRegistry registry, ClusterNotices notices) {
    static final Cluster ALONE = new Cluster(null, null, null);
  }

  ConsumerGroup(
      UUID appId,
      DeliveryEngine engine,
      GrantStore grants,
      StreamMetrics metrics,
      Cluster cluster) {
    this.appId = appId;
    this.engine = engine;
    this.grants = grants;
    this.metrics = metrics;
    this.cluster = cluster;
  }

  /**
   * Writes this node's connections into the registry (again) and removes its stale ones, then tells
   * the other nodes; completes when written (or failed: the periodic refresh writes again).
   */
  Future<Void> announce(List<StreamConnection> gone) {
    if (cluster.registry() == null) {
      return Future.succeededFuture();
    }
    String token = cluster.lease().token();
    List<String> stale = new ArrayList<>();
    gone.forEach(m -> stale.add(m.id()));
    everywhere.forEach(
        (id, node) -> {
          if (node.equals(token) && members.stream().noneMatch(m -> m.id().equals(id))) {
            stale.add(id);
          } else if (!node.equals(token) && cluster.lease().liveness(node) == Liveness.DEAD) {
            stale.add(id); // a node that is gone: its connections went with it
          }
        });
    Map<String, String> here = new HashMap<>();
    if (token != null) {
      members.forEach(m -> here.put(m.id(), token));
    }
    // the others hear of it only when the registry changes (not on the periodic rewrite)
    boolean changed =
        !stale.isEmpty()
            || here.entrySet().stream()
                .anyMatch(e -> !e.getValue().equals(everywhere.get(e.getKey())));
    return cluster
        .registry()
        .unregister(appId, stale)
        .compose(v -> cluster.registry().register(appId, here))
        .compose(
            v ->
                changed
                    ? cluster.notices().publish(ClusterNotices.GROUP, appId)
                    : Future.<Void>succeededFuture())
        .otherwiseEmpty();
  }

  /** Reads the group's connections on every node, then assigns. */
  Future<Void> refresh() {
    if (cluster.registry() == null) {
      if (loaded) {
        rebalance();
      }
      return Future.succeededFuture();
    }
    int read = ++reads;
    return cluster
        .registry()
        .members(appId)
        .<Void>map(
            found -> {
              if (read == reads) {
                everywhere = found;
              }
              return null;
            })
        .otherwiseEmpty()
        .onComplete(
            ar -> {
              if (read == reads && loaded && !memberIds().equals(assignedOver)) {
                rebalance(); // the members changed: the channels did not, or they would have
              }
            });
  }

  /**
   * The members the assignment is computed over: this node's open connections, and the others'
   * whose node is live (one that joined after this node's last view counts as live).
   */
  private List<String> memberIds() {
    java.util.Set<String> ids = new java.util.TreeSet<>();
    members.forEach(m -> ids.add(m.id()));
    if (cluster.lease() != null) {
      String token = cluster.lease().token();
      String self = cluster.lease().settings().nodeId();
      everywhere.forEach(
          (id, node) -> {
            if (node.equals(token) || NodeLease.nodeIdOf(node).equals(self)) {
              return; // ours: only the open ones above count
            }
            if (cluster.lease().liveness(node) != Liveness.DEAD) {
              ids.add(id);
            }
          });
    }
    return new ArrayList<>(ids);
  }

  UUID appId() {
    return appId;
  }

  void join(StreamConnection conn) {
    if (conn.isClosed()) {
      return;
    }
    members.add(conn);
    Future<Void> announced = announce(List.of());
    if (loaded) {
      announced.onComplete(x -> refresh());
    } else if (!loading) {
      loading = true;
      Future.join(load(""), announced.compose(v -> refresh()))
          .onComplete(
              ar -> {
                loading = false;
                if (ar.failed() && members.isEmpty()) {
                  // everyone left while the grants were loading, then a page failed: the pages
                  // read before it put channels in the engine that no group will remove
                  channels.values().forEach(engine::remove);
                  channels.clear();
                  pending.clear();
                  return;
                }
                if (ar.failed()) {
                  LOG.error(
                      "loading the grants of app {} failed; closing its connections",
                      appId,
                      ar.cause());
                  List.copyOf(members)
                      .forEach(
                          m ->
                              m.close(
                                  StreamConnection.GOING_AWAY, "grants unavailable, reconnect"));
                  return;
                }
                if (members.isEmpty()) {
                  // everyone left while the grants were loading; the service has dropped this group
                  channels.values().forEach(engine::remove);
                  channels.clear();
                  pending.clear();
                  return;
                }
                loaded = true;
                pending.forEach(Runnable::run);
                pending.clear();
                rebalance();
              });
    }
  }

  private Future<Void> load(String after) {
    return grants
        .forApp(appId, GRANT_PAGE, after)
        .compose(
            page -> {
              for (Grant g : page) {
                addChannel(g);
              }
              return page.size() < GRANT_PAGE
                  ? Future.succeededFuture()
                  : load(page.get(page.size() - 1).merchantId());
            });
  }

  void leave(StreamConnection conn) {
    if (!members.remove(conn)) {
      return;
    }
    for (Channel c : conn.channels.values()) {
      engine.release(c); // in Redis before the others hear of the leave
    }
    conn.channels.clear();
    announce(List.of(conn));
    if (members.isEmpty()) {
      channels.values().forEach(engine::remove);
      channels.clear();
      loaded = false;
    } else if (loaded) {
      rebalance();
    }
  }

  void granted(Grant grant) {
    if (!loaded) {
      pending.add(() -> granted(grant));
      return;
    }
    Channel known = channels.get(grant.merchantId());
    if (known != null && known.grantVersion() != grant.grantedAt().toEpochMilli()) {
      revoked(grant.merchantId()); // revoked and granted again elsewhere: a new channel
      known = null;
    }
    if (known == null) {
      addChannel(grant);
      rebalanceSoon();
    } else {
      follow(known, grant); // a grant made again: its scopes or event types may have changed
    }
  }

  /**
   * Brings the channels in line with the stored grants, for a change whose notice this node missed:
   * channels without a grant (or of an earlier grant) go, missing ones come, then one rebalance.
   */
  Future<Void> resync() {
    if (!loaded) {
      pending.add(this::resync);
      return Future.succeededFuture();
    }
    List<Grant> all = new ArrayList<>();
    GrantReads reads = engine.grantReads();
    long mark = reads.start();
    return loadInto("", all)
        .<Void>map(
            v -> {
              if (!loaded) {
                return null; // everyone left meanwhile
              }
              Map<String, Grant> stored = new HashMap<>();
              all.forEach(g -> stored.put(g.merchantId(), g));
              // a grant or revoke applied here since the read started is newer than what it says
              for (Channel c : List.copyOf(channels.values())) {
                if (!reads.apply(appId, c.merchantId(), mark)) {
                  continue;
                }
                Grant g = stored.get(c.merchantId());
                if (g == null || g.grantedAt().toEpochMilli() != c.grantVersion()) {
                  drop(c.merchantId());
                } else {
                  follow(c, g); // a change of scopes or event types whose notice was missed
                }
              }
              boolean added = false;
              for (Grant g : all) {
                if (!channels.containsKey(g.merchantId())
                    && reads.apply(appId, g.merchantId(), mark)) {
                  addChannel(g);
                  added = true;
                }
              }
              if (added) {
                rebalance();
              }
              return null;
            })
        .andThen(ar -> reads.end(mark));
  }

  private Future<Void> loadInto(String after, List<Grant> into) {
    return grants
        .forApp(appId, GRANT_PAGE, after)
        .compose(
            page -> {
              into.addAll(page);
              return page.size() < GRANT_PAGE
                  ? Future.succeededFuture()
                  : loadInto(page.get(page.size() - 1).merchantId(), into);
            });
  }

  void revoked(String merchantId) {
    if (!loaded) {
      pending.add(() -> revoked(merchantId));
      return;
    }
    if (drop(merchantId)) {
      rebalance();
    }
  }

  /** Removes the channel and tells its connection; false if there was none. */
  private boolean drop(String merchantId) {
    Channel c = channels.remove(merchantId);
    if (c == null) {
      return false;
    }
    for (StreamConnection m : members) {
      if (m.channels.remove(merchantId) != null) {
        StreamMessages.assignment("unassigned", List.of(merchantId)).forEach(m::send);
      }
    }
    engine.remove(c);
    return true;
  }

  /** The open connections, for closing them all. */
  List<StreamConnection> members() {
    return List.copyOf(members);
  }

  boolean isEmpty() {
    return members.isEmpty();
  }

  private void addChannel(Grant g) {
    Channel c =
        new Channel(
            appId, g.merchantId(), g.resumeFrom(), g.grantedAt().toEpochMilli(), g.scopes());
    c.eventTypes(g.eventTypes());
    channels.put(g.merchantId(), c);
    engine.add(c);
  }

  /** The channel follows its grant's scopes and event types as stored now. */
  private void follow(Channel c, Grant g) {
    c.scopes(g.scopes());
    c.eventTypes(g.eventTypes());
    engine.wake(c);
  }

  /**
   * A rebalance within {@link #REBALANCE_DELAY_MS}, one for every grant that comes meanwhile: each
   * computes the whole assignment (channels times members weights, about 0.2 s for 100,000 channels
   * over 50 connections), so a burst of grants to an app of many merchants costs one, not one each.
   */
  private void rebalanceSoon() {
    if (rebalanceTimer < 0) {
      rebalanceTimer =
          engine
              .vertx()
              .setTimer(
                  REBALANCE_DELAY_MS,
                  id -> {
                    rebalanceTimer = -1;
                    rebalance();
                  });
    }
  }

  static final long REBALANCE_DELAY_MS = 50;

  /** The pending {@link #rebalanceSoon}, or -1. */
  private long rebalanceTimer = -1;

  /**
   * Assigns the channels over the group's members on every node ({@link Rendezvous#balanced}): this
   * node's connections lose what is now another's ({@code unassigned}, released in Redis), then get
   * what is now theirs ({@code assigned}, then claimed, which waits for a previous holder on
   * another node to let go). A connection starts from the cursor.
   */
  private void rebalance() {
    if (rebalanceTimer >= 0) {
      engine.vertx().cancelTimer(rebalanceTimer); // this one covers it
      rebalanceTimer = -1;
    }
    if (members.isEmpty()) {
      return;
    }
    metrics.rebalances.increment();
    assignedOver = memberIds();
    Map<String, String> target = Rendezvous.balanced(appId, channels.keySet(), assignedOver);
    Map<String, StreamConnection> local = new HashMap<>();
    members.forEach(m -> local.put(m.id(), m));
    for (StreamConnection m : members) {
      List<String> taken = new ArrayList<>();
      for (Channel c : m.channels.values()) {
        if (!m.id().equals(target.get(c.merchantId()))) {
          taken.add(c.merchantId());
          engine.release(c);
        }
      }
      taken.forEach(m.channels::remove);
      if (!taken.isEmpty()) {
        StreamMessages.assignment("unassigned", taken).forEach(m::send);
      }
    }
    Map<StreamConnection, List<Channel>> given = new LinkedHashMap<>();
    List<String> merchants = new ArrayList<>(channels.keySet());
    merchants.sort(Comparator.naturalOrder());
    for (String merchant : merchants) {
      StreamConnection m = local.get(target.get(merchant));
      if (m != null && !m.channels.containsKey(merchant)) {
        Channel c = channels.get(merchant);
        m.channels.put(merchant, c);
        given.computeIfAbsent(m, x -> new ArrayList<>()).add(c);
      }
    }
    given.forEach(
        (m, list) -> {
          m.assigned(list.stream().map(Channel::merchantId).toList());
          list.forEach(c -> engine.assign(c, m));
        });
  }
}
