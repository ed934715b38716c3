package io.orderpush.gateway.admin;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.Delivery;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.pg.ClusterChore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes from Redis what deleted apps and revoked grants leave there.
 *
 * <p>A deleted app's cursor hashes: the delete commits a row in {@code app_sweeps} with the app's
 * removal; the node that deleted it sweeps at once ({@link #sweepNow}); a chore, on one node of the
 * cluster at a time, sweeps once more each app deleted more than {@code settle} ago, when every
 * node has surely stopped delivering it, then deletes its row. A node stopped or killed before that
 * leaves the row, and the chore on any node finishes the job.
 *
 * <p>A revoked grant's channel hash gets an expiry ({@code revokedTtl} after the revoke; a drill's
 * sandbox channels, a day) the same way: the revoke commits a row in {@code revoked_channels}, the
 * node that revoked sets the expiry at once ({@link #revokedNow}) and deletes the row, and the
 * chore sets it for the rows left (Redis was unreachable, the node stopped in between, a drill
 * ended), for what is left of that time.
 */
public final class AppSweeps {

  private static final Logger LOG = LoggerFactory.getLogger(AppSweeps.class);

  /** Apps swept in one round; the rest wait for the next. */
  static final int PER_ROUND = 100;

  /** How often the lock's connection is used while Redis is walked (below any idle cut). */
  static final long KEEP_ALIVE_MS = 500;

  private final Vertx vertx;
  private final Pool pool;
  private final AppStore apps;
  private final Delivery delivery;
  private final Duration settle;
  private final GrantStore grants;
  private final Duration revokedTtl;
  private final AtomicLong revokedPending = new AtomicLong(-1);
  private final AtomicLong pending = new AtomicLong(-1);
  private final Counter failures;
  private long timer = -1;
  private boolean running;

  /**
   * @param settle how long after a delete every node has surely stopped delivering the app (the
   *     control reconcile's bound on a missed notice, with a margin)
   * @param revokedTtl how long a revoked grant's channel stays in Redis after the revoke
   */
  public AppSweeps(
      Vertx vertx,
      Pool pool,
      AppStore apps,
      GrantStore grants,
      Delivery delivery,
      Duration settle,
      Duration revokedTtl,
      MeterRegistry registry) {
    this.vertx = vertx;
    this.pool = pool;
    this.apps = apps;
    this.grants = grants;
    this.delivery = delivery;
    this.settle = settle;
    this.revokedTtl = revokedTtl;
    Gauge.builder("gateway.revoked.channels.pending", revokedPending, AtomicLong::get)
        .description(
            "Revoked grants whose channel hash in Redis is still to be given its expiry, as of this"
                + " node's last round (-1 before the first)")
        .register(registry);
    Gauge.builder("gateway.app.sweeps.pending", pending, AtomicLong::get)
        .description(
            "Deleted apps whose cursor hashes in Redis are still to be swept, as of this node's"
                + " last round (-1 before the first)")
        .register(registry);
    this.failures =
        Counter.builder("gateway.app.sweep.failures")
            .description("Sweeps of a deleted app's cursor hashes that failed (tried again)")
            .register(registry);
  }

  /** Rounds at once and then every {@code settle}. */
  public void start() {
    timer = vertx.setPeriodic(0, settle.toMillis(), t -> round());
  }

  public void stop() {
    if (timer >= 0) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
  }

  /** The first sweep, right after the delete; the chore sweeps again later. Never fails. */
  public Future<Long> sweepNow(UUID appId) {
    return delivery
        .forgetApp(appId)
        .onSuccess(
            n -> {
              if (n > 0) {
                LOG.info("removed {} cursor(s) of deleted app {} from Redis", n, appId);
              }
            })
        .onFailure(
            err -> {
              failures.increment();
              LOG.warn(
                  "could not remove the cursors of deleted app {} from Redis (swept again later):"
                      + " {}",
                  appId,
                  err.toString());
            })
        .otherwise(0L);
  }

  /**
   * The revoked channel's hash expires {@code revokedTtl} from now, right after the revoke; its row
   * goes once that is done (the chore tries again otherwise). Never fails.
   */
  public Future<Void> revokedNow(UUID appId, String merchantId, long grantVersion) {
    GrantStore.RevokedChannel revoked =
        new GrantStore.RevokedChannel(appId, merchantId, grantVersion, revokedTtl);
    return expire(revoked)
        .onFailure(
            err -> {
              failures.increment();
              LOG.warn(
                  "could not set the expiry of the revoked channel of app {} and merchant {} in"
                      + " Redis (tried again later): {}",
                  appId,
                  merchantId,
                  err.toString());
            })
        .compose(
            v ->
                grants
                    .revokedChannelsDone(pool, List.of(revoked))
                    .onFailure(
                        err ->
                            LOG.warn(
                                "the expiry of the revoked channel of app {} and merchant {} is"
                                    + " set; its row stays for the chore to find so: {}",
                                appId,
                                merchantId,
                                err.toString())))
        .otherwiseEmpty();
  }

  /** One round of the chore; a round still running makes this one a no-op. Never fails. */
  Future<Void> round() {
    if (running) {
      return Future.succeededFuture();
    }
    running = true;
    return ClusterChore.once(
            pool,
            "app-sweeps",
            conn -> apps.appSweepsDue(conn, settle, PER_ROUND).compose(due -> finish(conn, due)))
        .onFailure(err -> LOG.warn("could not sweep deleted apps' cursors: {}", err.toString()))
        .transform(ar -> apps.appSweepsPending())
        .onSuccess(pending::set)
        .transform(
            ar ->
                ClusterChore.once(
                    pool,
                    "revoked-channels",
                    conn ->
                        grants
                            .revokedChannelsDue(conn, settle, PER_ROUND_REVOKED)
                            .compose(due -> expireAll(conn, due))))
        .onFailure(
            err -> LOG.warn("could not expire revoked channels' cursors: {}", err.toString()))
        .transform(ar -> grants.revokedChannelsPending())
        .onSuccess(revokedPending::set)
        .<Void>mapEmpty()
        .otherwiseEmpty()
        .onComplete(ar -> running = false);
  }

  /** Revoked channels given their expiry in one round at most; the rest wait for the next. */
  static final int PER_ROUND_REVOKED = 1000;

  /**
   * Gives these revoked channels their expiry (what is left of {@code revokedTtl}) and deletes the
   * rows of those done; one that fails keeps its row for the next round.
   */
  private Future<Void> expireAll(SqlConnection conn, List<GrantStore.RevokedChannel> due) {
    if (due.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Future<GrantStore.RevokedChannel>> each = new java.util.ArrayList<>(due.size());
    for (GrantStore.RevokedChannel r : due) {
      each.add(
          expire(r)
              .map(r)
              .otherwise(
                  err -> {
                    failures.increment();
                    return null;
                  }));
    }
    return Future.all(each)
        .compose(
            all -> {
              List<GrantStore.RevokedChannel> done =
                  each.stream().map(Future::result).filter(r -> r != null).toList();
              if (done.size() < due.size()) {
                LOG.warn(
                    "could not set the expiry of {} of {} revoked channels in Redis (tried again"
                        + " next round)",
                    due.size() - done.size(),
                    due.size());
              }
              return grants.revokedChannelsDone(conn, done);
            });
  }

  /**
   * Sets the expiry to what is left of the channel's time, unless a newer grant's claim owns the
   * hash (the script checks; a newer grant not yet claimed lets it expire, and its claim lifts the
   * expiry).
   */
  private Future<Void> expire(GrantStore.RevokedChannel r) {
    Duration left = r.left();
    return delivery
        .revokedCursor(
            r.appId(),
            r.merchantId(),
            r.grantVersion(),
            left.compareTo(Duration.ofMillis(1)) < 0 ? Duration.ofMillis(1) : left)
        .mapEmpty();
  }

  /** How long a revoked grant's channel stays in Redis after the revoke. */
  public Duration revokedTtl() {
    return revokedTtl;
  }

  /**
   * Sweeps these apps once more, in one walk of Redis's key space (it walks every key whatever the
   * apps' share), then deletes their rows.
   */
  private Future<Void> finish(SqlConnection conn, List<UUID> due) {
    if (due.isEmpty()) {
      return Future.succeededFuture();
    }
    // the lock's connection says nothing while Redis is walked: keep it from being cut as idle
    // (pg.client-timeout-ms), which would let another node start the same walk
    java.util.concurrent.atomic.AtomicBoolean asking =
        new java.util.concurrent.atomic.AtomicBoolean();
    long keepAlive =
        vertx.setPeriodic(
            KEEP_ALIVE_MS,
            t -> {
              if (asking.compareAndSet(false, true)) { // one at a time: none piles up
                conn.query("SELECT 1").execute().onComplete(ar -> asking.set(false));
              }
            });
    return delivery
        .forgetApps(new java.util.HashSet<>(due))
        .onSuccess(
            n ->
                LOG.info("swept {} deleted app(s); removed {} cursor(s) from Redis", due.size(), n))
        .onComplete(ar -> vertx.cancelTimer(keepAlive))
        .onFailure(err -> failures.increment())
        .compose(n -> apps.appsSwept(conn, due));
  }
}
