package io.orderpush.delivery.channel;

import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.util.List;
import java.util.UUID;

/** Cursor checkpoints in PostgreSQL, the copy of Redis's cursors that survives losing Redis. */
public final class CheckpointStore {

  /** One channel's cursor. */
  public record Checkpoint(UUID appId, String merchantId, long cursor) {}

  private static final String SAVE =
      "INSERT INTO cursor_checkpoints (app_id, merchant_id, cursor, updated_at)"
          + " SELECT a, m, c, now() FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS t(a, m, c)"
          // a checkpoint for a grant that was revoked meanwhile is simply dropped
          + " WHERE EXISTS (SELECT 1 FROM grants g WHERE g.app_id = t.a AND g.merchant_id = t.m)"
          + " ON CONFLICT (app_id, merchant_id) DO UPDATE SET cursor = excluded.cursor, updated_at = now()";

  private final Pool pool;

  public CheckpointStore(Pool pool) {
    this.pool = pool;
  }

  public Future<Void> save(List<Checkpoint> rows) {
    if (rows.isEmpty()) {
      return Future.succeededFuture();
    }
    Tuple params =
        Tuple.tuple()
            .addArrayOfUUID(rows.stream().map(Checkpoint::appId).toArray(UUID[]::new))
            .addArrayOfString(rows.stream().map(Checkpoint::merchantId).toArray(String[]::new))
            .addArrayOfLong(rows.stream().map(Checkpoint::cursor).toArray(Long[]::new));
    return pool.preparedQuery(SAVE).execute(params).mapEmpty();
  }
}
