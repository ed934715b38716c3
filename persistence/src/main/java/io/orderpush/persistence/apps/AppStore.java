package io.orderpush.persistence.apps;

import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.RowSet;
import io.vertx.sqlclient.Tuple;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/** Apps and their credentials in PostgreSQL. Secrets leave this class only in {@link CreatedApp}. */
public final class AppStore {

  private static final String COLUMNS = "app_id, name, delivery_mode, callback_url, state, created_at";

  private final Pool pool;
  private final SecretCipher cipher;

  public AppStore(Pool pool, SecretCipher cipher) {
    this.pool = pool;
    this.cipher = cipher;
  }

  public Future<CreatedApp> create(String name, DeliveryMode mode, Optional<String> callbackUrl) {
    UUID appId = UUID.randomUUID();
    String token = Credentials.newToken();
    String secret = Credentials.newWebhookSecret();
    byte[] sealed = cipher.encrypt(secret.getBytes(StandardCharsets.UTF_8), associatedData(appId));
    Tuple params =
        Tuple.of(
            appId,
            name,
            mode.wireName(),
            callbackUrl.orElse(null),
            Buffer.buffer(Credentials.hashToken(token)),
            Buffer.buffer(sealed));
    return pool.preparedQuery(
            "INSERT INTO apps (app_id, name, delivery_mode, callback_url, token_hash, secret_ciphertext)"
                + " VALUES ($1, $2, $3, $4, $5, $6) RETURNING " + COLUMNS)
        .execute(params)
        .map(rows -> new CreatedApp(toApp(rows.iterator().next()), token, secret));
  }

  public Future<List<App>> list(int limit, Optional<UUID> after) {
    return pool.preparedQuery(
            "SELECT " + COLUMNS + " FROM apps WHERE $1::uuid IS NULL OR app_id > $1 ORDER BY app_id LIMIT $2")
        .execute(Tuple.of(after.orElse(null), limit))
        .map(AppStore::toApps);
  }

  public Future<App> get(UUID appId) {
    return pool.preparedQuery("SELECT " + COLUMNS + " FROM apps WHERE app_id = $1")
        .execute(Tuple.of(appId))
        .map(rows -> single(rows, appId));
  }

  /** The app a bearer token belongs to, if any. Compares hashes, so timing reveals nothing useful. */
  public Future<Optional<App>> findByToken(String token) {
    return pool.preparedQuery("SELECT " + COLUMNS + " FROM apps WHERE token_hash = $1")
        .execute(Tuple.of(Buffer.buffer(Credentials.hashToken(token))))
        .map(rows -> rows.size() == 0 ? Optional.empty() : Optional.of(toApp(rows.iterator().next())));
  }

  /** The app's current webhook secret ({@code whsec_...}), decrypted for signing. */
  public Future<String> webhookSecret(UUID appId) {
    return pool.preparedQuery("SELECT secret_ciphertext FROM apps WHERE app_id = $1")
        .execute(Tuple.of(appId))
        .map(
            rows -> {
              if (rows.size() == 0) {
                throw new NotFoundException("app " + appId + " does not exist");
              }
              byte[] sealed = rows.iterator().next().getBuffer(0).getBytes();
              return new String(cipher.decrypt(sealed, associatedData(appId)), StandardCharsets.UTF_8);
            });
  }

  private static App single(RowSet<Row> rows, UUID appId) {
    if (rows.size() == 0) {
      throw new NotFoundException("app " + appId + " does not exist");
    }
    return toApp(rows.iterator().next());
  }

  private static List<App> toApps(RowSet<Row> rows) {
    List<App> apps = new ArrayList<>(rows.size());
    rows.forEach(r -> apps.add(toApp(r)));
    return apps;
  }

  private static App toApp(Row r) {
    return new App(
        r.getUUID("app_id"),
        r.getString("name"),
        DeliveryMode.fromWire(r.getString("delivery_mode")),
        Optional.ofNullable(r.getString("callback_url")),
        r.getString("state"),
        r.getOffsetDateTime("created_at").toInstant());
  }

  private static byte[] associatedData(UUID appId) {
    return ByteBuffer.allocate(16)
        .putLong(appId.getMostSignificantBits())
        .putLong(appId.getLeastSignificantBits())
        .array();
  }
}
