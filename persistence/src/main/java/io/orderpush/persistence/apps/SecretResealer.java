package io.orderpush.persistence.apps;

import io.orderpush.persistence.Futures;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Re-seals every stored webhook secret under the cipher's current key, so an old key can be
 * retired: afterwards no row needs it, and a database dump plus that key opens nothing.
 *
 * <p>Walks the apps in pages by id. A row whose secrets are already under the current key is left
 * alone; a previous secret whose grace period is over is dropped rather than re-sealed (nothing
 * signs with it any more). Each row is updated only if its sealed secrets are still the ones read,
 * so a rotation that happens meanwhile is never overwritten; such a row is read again on the next
 * pass. Rows that no configured key opens are reported and left as they are. Asynchronous
 * throughout, like every store: the caller may wait for the result on a plain thread.
 */
public final class SecretResealer {

  static final int PAGE = 100;
  static final int MAX_PASSES = 5;

  /**
   * What a run did.
   *
   * @param examined rows read (in the last pass)
   * @param resealed rows rewritten under the current key
   * @param droppedExpired expired previous secrets removed
   * @param unreadable apps whose secret no configured key opens; left unchanged
   * @param keyId the current key's id, which every readable row now carries
   */
  public record Result(
      int examined, int resealed, int droppedExpired, List<UUID> unreadable, String keyId) {}

  private final Pool pool;
  private final SecretCipher cipher;

  public SecretResealer(Pool pool, SecretCipher cipher) {
    this.pool = pool;
    this.cipher = cipher;
  }

  public Future<Result> resealAll() {
    return pass(1, 0, 0);
  }

  private Future<Result> pass(int n, int resealedBefore, int droppedBefore) {
    Run run = new Run();
    return page(run, null)
        .compose(
            v -> {
              int resealed = resealedBefore + run.resealed;
              int dropped = droppedBefore + run.dropped;
              if (run.raced > 0 && n < MAX_PASSES) {
                return pass(n + 1, resealed, dropped);
              }
              return Future.succeededFuture(
                  new Result(
                      run.examined,
                      resealed,
                      dropped,
                      List.copyOf(run.unreadable),
                      cipher.keyId()));
            });
  }

  private Future<Void> page(Run run, UUID after) {
    return pool.preparedQuery(
            "SELECT app_id, secret_ciphertext, secret_key_id, previous_secret_ciphertext,"
                + " previous_secret_key_id, previous_secret_expires_at > now()"
                + " FROM apps WHERE $1::uuid IS NULL OR app_id > $1 ORDER BY app_id LIMIT $2")
        .execute(Tuple.of(after, PAGE))
        .compose(
            rows -> {
              List<Row> list = new ArrayList<>(rows.size());
              rows.forEach(list::add);
              Future<Void> chain = Futures.sequentially(list, r -> row(run, r));
              if (list.size() < PAGE) {
                return chain;
              }
              UUID last = list.get(list.size() - 1).getUUID(0);
              return chain.compose(v -> page(run, last));
            });
  }

  private Future<Void> row(Run run, Row r) {
    run.examined++;
    UUID appId = r.getUUID(0);
    Buffer current = r.getBuffer(1);
    String currentKey = r.getString(2);
    Buffer previous = r.getBuffer(3);
    String previousKey = r.getString(4);
    boolean previousLive = previous != null && Boolean.TRUE.equals(r.getBoolean(5));
    boolean currentOk = cipher.keyId().equals(currentKey);
    boolean previousOk = previous == null || (previousLive && cipher.keyId().equals(previousKey));
    if (currentOk && previousOk) {
      return Future.succeededFuture();
    }
    byte[] aad = AppStore.associatedData(appId);
    byte[] newCurrent;
    byte[] newPrevious = null;
    try {
      newCurrent =
          currentOk
              ? current.getBytes()
              : cipher.encrypt(cipher.decrypt(current.getBytes(), currentKey, aad), aad);
      if (previousLive) {
        newPrevious =
            cipher.keyId().equals(previousKey)
                ? previous.getBytes()
                : cipher.encrypt(cipher.decrypt(previous.getBytes(), previousKey, aad), aad);
      }
    } catch (SecretUnreadableException e) {
      run.unreadable.add(appId);
      return Future.succeededFuture();
    }
    boolean dropping = previous != null && !previousLive;
    return pool.preparedQuery(
            "UPDATE apps SET secret_ciphertext = $2, secret_key_id = $3,"
                + " previous_secret_ciphertext = $4,"
                + " previous_secret_key_id = CASE WHEN $4::bytea IS NULL THEN NULL ELSE $3 END,"
                + " previous_secret_expires_at = CASE WHEN $4::bytea IS NULL THEN NULL"
                + " ELSE previous_secret_expires_at END"
                + " WHERE app_id = $1 AND secret_ciphertext = $5"
                + " AND previous_secret_ciphertext IS NOT DISTINCT FROM $6")
        .execute(
            Tuple.of(
                appId,
                Buffer.buffer(newCurrent),
                cipher.keyId(),
                newPrevious == null ? null : Buffer.buffer(newPrevious),
                current,
                previous))
        .map(
            rows -> {
              if (rows.rowCount() == 0) {
                run.raced++; // rotated or deleted meanwhile: the next pass reads it again
              } else {
                run.resealed++;
                if (dropping) {
                  run.dropped++;
                }
              }
              return null;
            });
  }

  /** Counts of one pass over the table. */
  private static final class Run {
    int examined;
    int resealed;
    int dropped;
    int raced;
    final List<UUID> unreadable = new ArrayList<>();
  }
}
