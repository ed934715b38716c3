package io.orderpush.delivery;

import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.callback.CallbackService;
import io.orderpush.delivery.callback.CallbackSettings;
import io.orderpush.delivery.channel.ChannelStates;
import io.orderpush.delivery.channel.CheckpointStore;
import io.orderpush.delivery.channel.DeliveryEngine;
import io.orderpush.delivery.channel.DeliveryProbe;
import io.orderpush.delivery.channel.DeliverySettings;
import io.orderpush.delivery.channel.HeadNotices;
import io.orderpush.delivery.cluster.ClusterNotices;
import io.orderpush.delivery.cluster.ClusterSettings;
import io.orderpush.delivery.cluster.GroupRegistry;
import io.orderpush.delivery.cluster.NodeLease;
import io.orderpush.delivery.cursor.CursorStore;
import io.orderpush.delivery.lag.LagQuery;
import io.orderpush.delivery.websocket.StreamService;
import io.orderpush.delivery.websocket.StreamSettings;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.audit.AuditLog;
import io.orderpush.persistence.events.EventLog;
import io.orderpush.persistence.events.LoggedEvent;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;

/**
 * The delivery module as the gateway sees it: built once, started and stopped, told of commits, and
 * asked about (or told to move) an app's channels. Behind it: the engine and its cursors in Redis
 * and checkpoints in PostgreSQL, this node's lease, head notices to other nodes, and the two
 * transports ({@link #streams()}, {@link #callbacks()}), which the gateway drives for connections,
 * grants and endpoint operations. Nothing here blocks; the methods may be called from any thread.
 */
public final class Delivery {

  /** Where and how delivery runs (one node). */
  public record Settings(
      DeliverySettings delivery,
      StreamSettings stream,
      CallbackSettings callback,
      ClusterSettings cluster,
      String nodeId,
      String headsChannel,
      long lagMaxScannedEvents) {}

  /**
   * One channel of an app as this cluster holds it.
   *
   * @param cursor the stored cursor, or -1 when Redis holds none for it
   * @param delivering whether a node (this one, or another with a live lease) delivers it now
   */
  public record ChannelView(String merchantId, long cursor, boolean delivering) {}

  private final CursorStore cursors;
  private final DeliveryEngine engine;
  private final StreamService streams;
  private final CallbackService callbacks;
  private final LagQuery lag;
  private final HeadNotices heads;
  private final ClusterNotices clusterNotices;
  private final NodeLease lease;
  private final GroupRegistry groups;

  /**
   * Builds delivery without starting anything.
   *
   * @param pool the general pool (checkpoints, lag)
   * @param deliveryPool the pool that reads the log for delivery
   * @param redis the shared connection (cursors, notices, groups)
   * @param leaseRedis a connection of the lease's own, so its renewals never queue behind claims
   */
  public Delivery(
      Vertx vertx,
      Pool pool,
      Pool deliveryPool,
      EventLog log,
      RedisStore redis,
      RedisStore leaseRedis,
      AppStore apps,
      GrantStore grants,
      AuditLog audit,
      Settings settings,
      MeterRegistry registry) {
    cursors = new CursorStore(redis);
    engine =
        new DeliveryEngine(
            vertx,
            deliveryPool,
            log,
            cursors,
            new CheckpointStore(pool),
            settings.delivery(),
            registry);
    engine.auditTo(audit);
    streams = new StreamService(engine, grants, settings.stream(), registry);
    callbacks = new CallbackService(engine, apps, grants, settings.callback(), registry);
    lag = new LagQuery(pool, cursors, engine.context(), settings.lagMaxScannedEvents());
    // Other nodes hear of this node's commits through Redis (their reconcile is the backstop).
    heads =
        new HeadNotices(
            engine,
            redis,
            settings.headsChannel(),
            settings.nodeId(),
            // a node alone has nobody to tell
            () -> !leaseAlone(),
            registry);
    // Channel ownership across nodes: a lease per node, channels assigned over the live nodes
    // (callbacks) or the app's connections on every node (WebSocket).
    clusterNotices = new ClusterNotices(engine.context(), redis, settings.cluster());
    lease =
        new NodeLease(engine.context(), leaseRedis, settings.cluster(), clusterNotices, registry);
    engine.useLease(lease);
    callbacks.useLease(lease);
    groups = new GroupRegistry(engine.context(), redis, settings.cluster());
    streams.useCluster(lease, groups, clusterNotices);
  }

  /**
   * The node ids of the live nodes in this node's last view of the cluster (sorted; this node
   * included while it holds its lease). Any thread.
   */
  public java.util.SortedSet<String> liveNodes() {
    return lease.nodeIds();
  }

  private boolean leaseAlone() {
    return lease != null && lease.alone();
  }

  /**
   * Starts the cluster notices, the lease, head notices and the callback endpoints, in that order.
   * Start the control-change bus (on {@link #context()}) first, so no change made elsewhere
   * meanwhile is missed.
   */
  public Future<Void> start() {
    return onContext(clusterNotices::start)
        .compose(v -> onContext(lease::start))
        .compose(v -> heads.start())
        .compose(v -> callbacks.start());
  }

  /**
   * Stops delivering: the transports close, the engine writes a last checkpoint, and the lease is
   * given up, so other nodes take this node's channels over at once. Never fails.
   */
  public Future<Void> stop() {
    return heads
        .close()
        .transform(v -> streams.close())
        .transform(v -> callbacks.close())
        .transform(v -> engine.close())
        .transform(v -> onContext(lease::leave))
        .transform(v -> onContext(clusterNotices::close))
        .otherwiseEmpty();
  }

  /** Events were committed: wakes their channels here, and tells the other nodes. */
  public void committed(Map<String, List<LoggedEvent>> stored) {
    committed(stored, false);
  }

  /**
   * Events were committed here: wakes their channels here and keeps the events at hand, and tells
   * the other nodes by head notice unless {@code othersHaveThem} (every other live node was sent
   * the events themselves, see {@code CommitFeed}). Any thread.
   */
  public void committed(Map<String, List<LoggedEvent>> stored, boolean othersHaveThem) {
    engine.committed(stored);
    if (!othersHaveThem) {
      heads.committed(stored);
    }
  }

  /**
   * Tells the other nodes by head notice of a group committed here whose notice was skipped but
   * that did not reach every other node whole after all. Any thread.
   */
  public void tellOthers(Map<String, List<LoggedEvent>> stored) {
    heads.committed(stored);
  }

  /**
   * A commit group another node sent whole ({@code CommitFrames}): wakes the channels delivered
   * here and keeps their events at hand, so caught-up channels send them without reading the log.
   * Fails, changing nothing, on a damaged frame. Any thread.
   */
  public Future<Void> committedElsewhere(io.vertx.core.buffer.Buffer frame) {
    return engine.committedFrame(frame);
  }

  /** Commits of these merchants may or may not have happened (the answer was lost). */
  public void mayHaveCommitted(Set<String> merchantIds) {
    engine.mayHaveCommitted(merchantIds);
  }

  /**
   * Sets the channel's cursor (rewind or skip): the cursor and the epoch change in Redis in one
   * step, so no ack of the old position can move it afterwards; the checkpoint follows at once, and
   * delivery of the channel, on whatever node, restarts from {@code seq + 1}.
   *
   * @param grantVersion the channel's grant (its time), for the checkpoint
   */
  public Future<Void> setCursor(UUID appId, String merchantId, long seq, long grantVersion) {
    return cursors
        .rewind(engine.context(), appId, merchantId, seq, grantVersion)
        .compose(epoch -> engine.cursorSet(appId, merchantId, seq, grantVersion));
  }

  /**
   * The channel's cursor was set through another node ({@link #setCursor} there): if this node
   * delivers the channel, delivery restarts from the stored cursor + 1.
   */
  public Future<Void> cursorSetElsewhere(UUID appId, String merchantId) {
    return engine.cursorSetElsewhere(appId, merchantId);
  }

  /** The app's channels of these merchants, in their order: stored cursor and whether delivered. */
  public Future<List<ChannelView>> channels(UUID appId, List<String> merchantIds) {
    Context ctx = engine.context();
    Future<List<Long>> stored = cursors.cursors(ctx, appId, merchantIds);
    // delivering here, or held in Redis by a node whose lease is live (any node)
    List<Future<Boolean>> live =
        merchantIds.stream()
            .map(
                m ->
                    engine
                        .delivering(appId, m)
                        .compose(
                            here ->
                                here
                                    ? Future.succeededFuture(true)
                                    : cursors
                                        .holder(ctx, appId, m)
                                        .map(h -> h != null && lease.live(h))))
            .toList();
    return Future.all(stored, Future.all(live))
        .map(
            v -> {
              List<ChannelView> out = new java.util.ArrayList<>(merchantIds.size());
              for (int i = 0; i < merchantIds.size(); i++) {
                out.add(
                    new ChannelView(
                        merchantIds.get(i), stored.result().get(i), live.get(i).result()));
              }
              return out;
            });
  }

  /**
   * Removes every stored cursor of a deleted app from Redis, and its consumer group's registry of
   * connections; returns how many cursors were removed. Call once delivery of the app has stopped
   * everywhere (a node that had not heard may claim again).
   */
  public Future<Long> forgetApp(UUID appId) {
    return cursors.forgetApp(engine.context(), appId).compose(n -> groups.forget(appId).map(n));
  }

  /**
   * The channel of a revoked grant ({@code grantVersion}, its {@code granted_at} in ms) expires
   * from Redis after {@code ttl}, unless the merchant grants the app again first. Answers whether
   * there was a hash of that grant.
   */
  public Future<Boolean> revokedCursor(
      UUID appId, String merchantId, long grantVersion, java.time.Duration ttl) {
    return cursors.expireRevoked(engine.context(), appId, merchantId, grantVersion, ttl);
  }

  /**
   * These channels of the app (a drill's sandbox merchants, once it ended) expire from Redis after
   * {@code ttl}, unless granted again first; answers how many existed.
   */
  public Future<Long> expireChannels(UUID appId, List<String> merchantIds, java.time.Duration ttl) {
    return cursors.expire(engine.context(), appId, merchantIds, ttl);
  }

  /** Removes the cursor hashes of several deleted apps in one walk of Redis's key space. */
  public Future<Long> forgetApps(java.util.Set<UUID> appIds) {
    return cursors
        .forgetApps(engine.context(), appIds)
        .compose(
            n ->
                Future.all(appIds.stream().map(groups::forget).toList())
                    .map(v -> n)); // their consumer groups' registries too
  }

  /**
   * Removes the stored cursors of these channels of the app (a deleted drill's sandbox merchants);
   * returns how many existed.
   */
  public Future<Long> forget(UUID appId, List<String> merchantIds) {
    return cursors.forget(engine.context(), appId, merchantIds);
  }

  /** Where acks, callback answers and connections of watched apps are reported. Before start. */
  public void probe(DeliveryProbe probe) {
    engine.probe(probe);
  }

  /** Counts this node's channels by state (see {@link ChannelStates}). */
  public Future<ChannelStates> channelStates() {
    return engine.channelStates();
  }

  /** The WebSocket transport: connections, grants, app lifecycle. */
  /** Orders what this node learns of grants by when it was read (any thread). */
  public io.orderpush.delivery.channel.GrantReads grantReads() {
    return engine.grantReads();
  }

  public StreamService streams() {
    return streams;
  }

  /** The callback transport: endpoints, grants, app lifecycle. */
  public CallbackService callbacks() {
    return callbacks;
  }

  /** Lag by channel across the cluster, from PostgreSQL's heads and Redis's cursors. */
  public LagQuery lag() {
    return lag;
  }

  /** The context all channel state lives on; the control-change bus runs on it too. */
  public Context context() {
    return engine.context();
  }

  private <T> Future<T> onContext(Supplier<Future<T>> work) {
    Promise<T> p = Promise.promise();
    engine.context().runOnContext(v -> work.get().onComplete(p));
    return p.future();
  }
}
