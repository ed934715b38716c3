package io.orderpush.delivery.websocket;

import io.orderpush.delivery.channel.Channel;
import io.orderpush.delivery.channel.DeliveryEngine;
import io.orderpush.persistence.apps.Grant;
import io.orderpush.persistence.apps.GrantStore;
import io.vertx.core.Future;
import java.util.ArrayDeque;
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
 * All open connections of one app on this node, sharing the app's channels: each channel has at
 * most one connection, every connection a fair share (sizes differ by at most one). Confined to the
 * delivery engine's context.
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

  ConsumerGroup(UUID appId, DeliveryEngine engine, GrantStore grants, StreamMetrics metrics) {
    this.appId = appId;
    this.engine = engine;
    this.grants = grants;
    this.metrics = metrics;
  }

  UUID appId() {
    return appId;
  }

  void join(StreamConnection conn) {
    if (conn.isClosed()) {
      return;
    }
    members.add(conn);
    if (loaded) {
      rebalance();
    } else if (!loading) {
      loading = true;
      load("")
          .onComplete(
              ar -> {
                loading = false;
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
      engine.release(c);
    }
    conn.channels.clear();
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
      rebalance();
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
    return loadInto("", all)
        .map(
            v -> {
              if (!loaded) {
                return null; // everyone left meanwhile
              }
              Map<String, Grant> stored = new HashMap<>();
              all.forEach(g -> stored.put(g.merchantId(), g));
              for (Channel c : List.copyOf(channels.values())) {
                Grant g = stored.get(c.merchantId());
                if (g == null || g.grantedAt().toEpochMilli() != c.grantVersion()) {
                  drop(c.merchantId());
                } else {
                  follow(c, g); // a change of scopes or event types whose notice was missed
                }
              }
              boolean added = false;
              for (Grant g : all) {
                if (!channels.containsKey(g.merchantId())) {
                  addChannel(g);
                  added = true;
                }
              }
              if (added) {
                rebalance();
              }
              return null;
            });
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
   * Moves as few channels as it takes for every member to hold floor(n/k) or ceil(n/k): the most
   * loaded keep the extra ones. Unassigned goes out before the channel is given to another
   * connection, which starts from the cursor.
   */
  private void rebalance() {
    if (members.isEmpty()) {
      return;
    }
    metrics.rebalances.increment();
    int n = channels.size();
    int k = members.size();
    List<StreamConnection> byLoad = new ArrayList<>(members);
    byLoad.sort(Comparator.comparingInt((StreamConnection m) -> m.channels.size()).reversed());
    Map<StreamConnection, Integer> target = new HashMap<>();
    for (int i = 0; i < k; i++) {
      target.put(byLoad.get(i), n / k + (i < n % k ? 1 : 0));
    }
    ArrayDeque<Channel> free = new ArrayDeque<>();
    for (Channel c : channels.values()) {
      if (c.owner() == null) {
        free.add(c);
      }
    }
    for (StreamConnection m : byLoad) {
      List<String> taken = new ArrayList<>();
      var it = m.channels.values().iterator();
      while (m.channels.size() - taken.size() > target.get(m) && it.hasNext()) {
        Channel c = it.next();
        taken.add(c.merchantId());
        engine.release(c);
        free.add(c);
      }
      taken.forEach(m.channels::remove);
      if (!taken.isEmpty()) {
        StreamMessages.assignment("unassigned", taken).forEach(m::send);
      }
    }
    Map<StreamConnection, List<Channel>> given = new LinkedHashMap<>();
    for (StreamConnection m : byLoad) {
      while (m.channels.size() < target.get(m) && !free.isEmpty()) {
        Channel c = free.poll();
        m.channels.put(c.merchantId(), c);
        given.computeIfAbsent(m, x -> new ArrayList<>()).add(c);
      }
    }
    given.forEach(
        (m, list) -> {
          StreamMessages.assignment("assigned", list.stream().map(Channel::merchantId).toList())
              .forEach(m::send);
          list.forEach(c -> engine.assign(c, m));
        });
  }
}
