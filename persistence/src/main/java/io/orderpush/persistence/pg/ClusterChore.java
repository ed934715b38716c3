package io.orderpush.persistence.pg;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import java.util.function.Function;

/**
 * A chore every node of a cluster runs on a timer but only one should do at a time (partition
 * creation and retention drops): run on one connection that holds a PostgreSQL session advisory
 * lock named after the chore. A node that finds the lock taken skips the round; a node that dies
 * holding it loses its session, and with it the lock. The work runs on the locking connection, so
 * it needs no second connection from the pool (and statements that refuse a transaction block, such
 * as {@code DETACH PARTITION CONCURRENTLY}, still run).
 */
public final class ClusterChore {

  private ClusterChore() {}

  /** The lock key of a chore: a stable 64-bit hash of its name. */
  static long key(String name) {
    return UUID.nameUUIDFromBytes(("orderpush-chore:" + name).getBytes(StandardCharsets.UTF_8))
        .getMostSignificantBits();
  }

  /**
   * Runs {@code work} if no other session runs the chore {@code name}: completes with true when it
   * ran (and the work's failure, if it failed), false when another session held the lock.
   */
  public static Future<Boolean> once(
      Pool pool, String name, Function<SqlConnection, Future<?>> work) {
    long key = key(name);
    return pool.getConnection()
        .compose(
            conn ->
                conn.preparedQuery("SELECT pg_try_advisory_lock($1)")
                    .execute(Tuple.of(key))
                    .compose(
                        rows -> {
                          if (!rows.iterator().next().getBoolean(0)) {
                            return Future.succeededFuture(false);
                          }
                          return work.apply(conn)
                              .transform(
                                  done ->
                                      conn.preparedQuery("SELECT pg_advisory_unlock($1)")
                                          .execute(Tuple.of(key))
                                          .otherwiseEmpty()
                                          .compose(
                                              x ->
                                                  done.succeeded()
                                                      ? Future.succeededFuture(true)
                                                      : Future.<Boolean>failedFuture(
                                                          done.cause())));
                        })
                    .eventually(conn::close));
  }
}
