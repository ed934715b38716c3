package io.orderpush.delivery.channel;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.util.List;
import java.util.UUID;

/**
 * Cursor checkpoints in PostgreSQL, the copy of Redis's cursors that survives losing Redis.
 *
 * <p>A checkpoint belongs to one grant (its version is the grant's time): a write for a grant that
 * was revoked, or revoked and granted again, is dropped. Within a grant, writes only move the
 * checkpoint forward, so overlapping or late writes can never lower it; only a rewind through the
 * API ({@code force}) moves it back.
 */
public final class CheckpointStore {

  /** One channel's cursor, under the grant of the given version (its time, epoch millis). */
  public record Checkpoint(UUID appId, String merchantId, long cursor, long grantVersion) {}

  private static final String SAVE =
      "INSERT INTO cursor_checkpoints (app_id, merchant_id, cursor, updated_at)"
          + " SELECT a, m, c, now() FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[])"
          + " AS t(a, m, c, v)"
          + " WHERE EXISTS (SELECT 1 FROM grants g WHERE g.app_id = t.a AND g.merchant_id = t.m"
          + "   AND floor(extract(epoch FROM g.granted_at) * 1000)::bigint = t.v)"
          + " ON CONFLICT (app_id, merchant_id) DO UPDATE SET cursor = excluded.cursor,"
          + " updated_at = now()";

  private static final String FORWARD_ONLY = " WHERE cursor_checkpoints.cursor < excluded.cursor";

  private final Pool pool;

  public CheckpointStore(Pool pool) {
    this.pool = pool;
  }

  /** Moves checkpoints forward; a lower cursor than the stored one changes nothing. */
  public Future<Void> save(List<Checkpoint> rows) {
    return write(rows, SAVE + FORWARD_ONLY);
  }

  /** Sets checkpoints back or forward: a rewind or skip through the API. */
  public Future<Void> force(List<Checkpoint> rows) {
    return write(rows, SAVE);
  }

  private Future<Void> write(List<Checkpoint> rows, String sql) {
    if (rows.isEmpty()) {
      return Future.succeededFuture();
    }
    Tuple params =
        Tuple.tuple()
            .addArrayOfUUID(rows.stream().map(Checkpoint::appId).toArray(UUID[]::new))
            .addArrayOfString(rows.stream().map(Checkpoint::merchantId).toArray(String[]::new))
            .addArrayOfLong(rows.stream().map(Checkpoint::cursor).toArray(Long[]::new))
            .addArrayOfLong(rows.stream().map(Checkpoint::grantVersion).toArray(Long[]::new));
    return pool.preparedQuery(sql).execute(params).mapEmpty();
  }
}
