package io.orderpush.gateway.admin;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.Delivery;
import io.orderpush.persistence.apps.AppStore;
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
 * Removes a deleted app's cursor hashes from Redis. The delete commits a row in {@code app_sweeps}
 * with the app's removal; the node that deleted it sweeps at once ({@link #sweepNow}); a chore, on
 * one node of the cluster at a time, sweeps once more each app deleted more than {@code settle}
 * ago, when every node has surely stopped delivering it, then deletes its row. A node stopped or
 * killed before that leaves the row, and the chore on any node finishes the job.
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
  private final AtomicLong pending = new AtomicLong(-1);
  private final Counter failures;
  private long timer = -1;
  private boolean running;

  /**
   * @param settle how long after a delete every node has surely stopped delivering the app (the
   *     control reconcile's bound on a missed notice, with a margin)
   */
  public AppSweeps(
      Vertx vertx,
      Pool pool,
      AppStore apps,
      Delivery delivery,
      Duration settle,
      MeterRegistry registry) {
    this.vertx = vertx;
    this.pool = pool;
    this.apps = apps;
    this.delivery = delivery;
    this.settle = settle;
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
        .<Void>mapEmpty()
        .otherwiseEmpty()
        .onComplete(ar -> running = false);
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
