package io.orderpush.persistence.pg;

import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;

/** Builds the gateway's PostgreSQL pools, every one with bounded size, wait queue and timeouts. */
public final class PgPools {

  private PgPools() {}

  /**
   * @param name pool name, for logs and metrics
   * @param size connections
   * @param maxWaiting requests that may wait for a connection before failing at once
   */
  public static Pool create(Vertx vertx, PgSettings pg, String name, int size, int maxWaiting) {
    PoolOptions pool =
        new PoolOptions()
            .setName(name)
            .setMaxSize(size)
            .setMaxWaitQueueSize(maxWaiting)
            .setConnectionTimeout((int) pg.queryTimeout().toMillis())
            .setConnectionTimeoutUnit(java.util.concurrent.TimeUnit.MILLISECONDS);
    return PgBuilder.pool()
        .with(pool)
        .with(
            new NetClientOptions()
                .setConnectTimeout((int) pg.connectTimeout().toMillis())
                .setTcpNoDelay(true))
        .connectingTo(pg.connectOptions())
        .using(vertx)
        .build();
  }
}
