package io.orderpush.persistence.pg;

import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.pgclient.PgBuilder;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.PoolOptions;
import java.util.concurrent.TimeUnit;

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
            .setConnectionTimeoutUnit(TimeUnit.MILLISECONDS)
            // Idle connections leave before the silence cut below could catch them unused.
            .setIdleTimeout((int) pg.poolIdleTimeout().toMillis())
            .setIdleTimeoutUnit(TimeUnit.MILLISECONDS)
            .setPoolCleanerPeriod((int) pg.poolCleanerPeriod().toMillis());
    return PgBuilder.pool()
        .with(pool)
        .with(transport(pg))
        .connectingTo(pg.connectOptions())
        .using(vertx)
        .build();
  }

  /**
   * The socket options of every PostgreSQL connection.
   *
   * <p>A server that vanishes without a reset (host down, network cut, a firewall dropping state)
   * would leave a connection waiting for the kernel's retransmission timeout, about 15 minutes,
   * with its statement, its transaction and its pool slot. The read-idle timeout closes a
   * connection that has received nothing for the client timeout, whatever it was doing (handshake,
   * statement, commit): its commands fail, the pool drops it and opens a fresh one on demand. This
   * also works where TCP cannot tell, e.g. behind a proxy whose own kernel keeps acknowledging.
   * TCP_USER_TIMEOUT (native transport only) lets the kernel give up on unacknowledged data as
   * soon; keepalive probes find dead idle connections on the system's keepalive schedule.
   */
  static NetClientOptions transport(PgSettings pg) {
    int silence = (int) pg.clientTimeout().toMillis();
    NetClientOptions options =
        new NetClientOptions()
            .setConnectTimeout((int) pg.connectTimeout().toMillis())
            .setTcpNoDelay(true)
            .setTcpKeepAlive(true)
            .setReadIdleTimeout(silence)
            .setIdleTimeoutUnit(TimeUnit.MILLISECONDS);
    options.setTcpUserTimeout(silence);
    return options;
  }
}
