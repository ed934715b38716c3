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

/**
 * Apps and their credentials in PostgreSQL. Secrets leave this class only in {@link CreatedApp}.
 */
public final class AppStore {

  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AppStore.class);

  private static final String COLUMNS =
      "app_id, name, delivery_mode, callback_url, state, endpoint_state, created_at";

  private static final int COLUMN_COUNT = 7;

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
            Buffer.buffer(sealed),
            cipher.keyId());
    return pool.preparedQuery(
            "INSERT INTO apps (app_id, name, delivery_mode, callback_url, token_hash, secret_ciphertext,"
                + " secret_key_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING "
                + COLUMNS)
        .execute(params)
        .map(rows -> new CreatedApp(toApp(rows.iterator().next()), token, secret));
  }

  /**
   * Creates the app once per {@code idempotencyKey}: a retry with the same key and the same request
   * finds the app the first attempt made (its credentials are not shown again); the same key with
   * another request is reported as such. The key is remembered as long as the app exists.
   */
  public Future<IdempotentCreate> createOnce(
      String idempotencyKey, String name, DeliveryMode mode, Optional<String> callbackUrl) {
    UUID appId = UUID.randomUUID();
    String token = Credentials.newToken();
    String secret = Credentials.newWebhookSecret();
    byte[] sealed = cipher.encrypt(secret.getBytes(StandardCharsets.UTF_8), associatedData(appId));
    byte[] request = requestHash(name, mode, callbackUrl);
    Tuple params =
        Tuple.of(
            appId,
            name,
            mode.wireName(),
            callbackUrl.orElse(null),
            Buffer.buffer(Credentials.hashToken(token)),
            Buffer.buffer(sealed),
            idempotencyKey,
            Buffer.buffer(request),
            cipher.keyId());
    return pool.preparedQuery(
            "INSERT INTO apps (app_id, name, delivery_mode, callback_url, token_hash,"
                + " secret_ciphertext, idempotency_key, create_request_hash, secret_key_id)"
                + " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                + " ON CONFLICT (idempotency_key) DO NOTHING RETURNING "
                + COLUMNS)
        .execute(params)
        .compose(
            rows ->
                rows.size() == 1
                    ? Future.succeededFuture(
                        IdempotentCreate.created(
                            new CreatedApp(toApp(rows.iterator().next()), token, secret)))
                    : byIdempotencyKey(idempotencyKey, request));
  }

  private Future<IdempotentCreate> byIdempotencyKey(String key, byte[] request) {
    return pool.preparedQuery(
            "SELECT " + COLUMNS + ", create_request_hash FROM apps WHERE idempotency_key = $1")
        .execute(Tuple.of(key))
        .map(
            rows -> {
              if (rows.size() == 0) {
                // the app made under this key was deleted between our insert and this read
                throw new NotFoundException(
                    "the app created with this Idempotency-Key was deleted meanwhile; retry");
              }
              Row row = rows.iterator().next();
              boolean same =
                  java.security.MessageDigest.isEqual(
                      request, row.getBuffer("create_request_hash").getBytes());
              return IdempotentCreate.existing(toApp(row), same);
            });
  }

  private static byte[] requestHash(String name, DeliveryMode mode, Optional<String> url) {
    try {
      var sha = java.security.MessageDigest.getInstance("SHA-256");
      for (String part : new String[] {name, mode.wireName(), url.orElse("")}) {
        byte[] b = part.getBytes(StandardCharsets.UTF_8);
        sha.update(ByteBuffer.allocate(4).putInt(b.length).array());
        sha.update(b);
      }
      return sha.digest();
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  public Future<List<App>> list(int limit, Optional<UUID> after) {
    return pool.preparedQuery(
            "SELECT "
                + COLUMNS
                + " FROM apps WHERE $1::uuid IS NULL OR app_id > $1 ORDER BY app_id LIMIT $2")
        .execute(Tuple.of(after.orElse(null), limit))
        .map(AppStore::toApps);
  }

  public Future<App> get(UUID appId) {
    return pool.preparedQuery("SELECT " + COLUMNS + " FROM apps WHERE app_id = $1")
        .execute(Tuple.of(appId))
        .map(rows -> single(rows, appId));
  }

  /**
   * The app a bearer token belongs to, if any. Compares hashes, so timing reveals nothing useful.
   */
  public Future<Optional<App>> findByToken(String token) {
    return authenticate(token).map(found -> found.map(AuthenticatedApp::app));
  }

  /**
   * The app whose current token, or previous one within its grace period, is {@code token}, with
   * until when the token is valid (for a connection opened with it).
   */
  public Future<Optional<AuthenticatedApp>> authenticate(String token) {
    byte[] hash = Credentials.hashToken(token);
    return pool.preparedQuery(
            "SELECT "
                + COLUMNS
                // what is left of the grace period by PostgreSQL's clock, which set its end
                + ", CASE WHEN token_hash = $1 THEN NULL"
                + " ELSE (extract(epoch FROM previous_token_expires_at - now()) * 1000)::bigint END"
                + " FROM apps WHERE token_hash = $1"
                + " OR (previous_token_hash = $1 AND previous_token_expires_at > now())")
        .execute(Tuple.of(Buffer.buffer(hash)))
        .map(
            rows -> {
              if (rows.size() == 0) {
                return Optional.empty();
              }
              Row row = rows.iterator().next();
              Long left = row.getLong(COLUMN_COUNT);
              return Optional.of(
                  new AuthenticatedApp(
                      toApp(row),
                      hash,
                      left == null
                          ? java.time.Instant.MAX
                          : java.time.Instant.now().plusMillis(left)));
            });
  }

  /** The hashes of the app's tokens as stored now; empty if the app does not exist. */
  public Future<Optional<AppTokens>> tokens(UUID appId) {
    return pool.preparedQuery(
            "SELECT token_hash,"
                + " CASE WHEN previous_token_expires_at > now() THEN previous_token_hash END,"
                + " (extract(epoch FROM previous_token_expires_at - now()) * 1000)::bigint"
                + " FROM apps WHERE app_id = $1")
        .execute(Tuple.of(appId))
        .map(
            rows -> {
              if (rows.size() == 0) {
                return Optional.empty();
              }
              Row row = rows.iterator().next();
              Buffer previous = row.getBuffer(1);
              return Optional.of(
                  new AppTokens(
                      row.getBuffer(0).getBytes(),
                      previous == null ? Optional.empty() : Optional.of(previous.getBytes()),
                      previous == null
                          ? java.time.Instant.MIN
                          // by PostgreSQL's clock, which set it, counted on this node's
                          : java.time.Instant.now().plusMillis(row.getLong(2))));
            });
  }

  /** The app's current webhook secret ({@code whsec_...}), decrypted for signing. */
  public Future<String> webhookSecret(UUID appId) {
    return signingSecrets(appId).map(secrets -> secrets.get(0));
  }

  /**
   * The secrets deliveries are signed with: the current one first, then the previous one while its
   * rotation grace period lasts and it can be opened. A previous secret sealed under a key this
   * node does not hold is left out: rotating the secret of an app whose secret could not be opened
   * makes it deliverable at once, signed with the new secret only. A current secret that cannot be
   * opened fails with {@link SecretUnreadableException}.
   */
  public Future<List<String>> signingSecrets(UUID appId) {
    return pool.preparedQuery(
            "SELECT secret_ciphertext, CASE WHEN previous_secret_expires_at > now()"
                + " THEN previous_secret_ciphertext END, secret_key_id, previous_secret_key_id"
                + " FROM apps WHERE app_id = $1")
        .execute(Tuple.of(appId))
        .map(
            rows -> {
              if (rows.size() == 0) {
                throw new NotFoundException("app " + appId + " does not exist");
              }
              Row row = rows.iterator().next();
              List<String> secrets = new ArrayList<>(2);
              secrets.add(open(row.getBuffer(0), row.getString(2), appId));
              if (row.getBuffer(1) != null) {
                try {
                  secrets.add(open(row.getBuffer(1), row.getString(3), appId));
                } catch (SecretUnreadableException sealedUnderAnotherKey) {
                  // nothing this node could sign with: the receiver must verify with the new one
                  LOG.warn(
                      "signing the deliveries of app {} with its current secret only: its previous"
                          + " secret, still in its rotation grace, cannot be opened: {}",
                      appId,
                      sealedUnderAnotherKey.getMessage());
                }
              }
              return secrets;
            });
  }

  /**
   * Replaces the webhook secret; the old one stays valid (deliveries carry both signatures) for
   * {@code grace}. Returns the new secret, the only time it is shown, and when the old one stops
   * signing (the database's clock, as stored).
   */
  public Future<RotatedSecret> rotateSecret(UUID appId, java.time.Duration grace) {
    String secret = Credentials.newWebhookSecret();
    byte[] sealed = cipher.encrypt(secret.getBytes(StandardCharsets.UTF_8), associatedData(appId));
    return pool.preparedQuery(
            "UPDATE apps SET previous_secret_ciphertext = secret_ciphertext,"
                + " previous_secret_expires_at = now() + $3 * interval '1 millisecond', secret_ciphertext = $2,"
                + " previous_secret_key_id = secret_key_id, secret_key_id = $4"
                + " WHERE app_id = $1 RETURNING previous_secret_expires_at")
        .execute(Tuple.of(appId, Buffer.buffer(sealed), grace.toMillis(), cipher.keyId()))
        .map(
            rows -> {
              if (rows.size() == 0) {
                throw new NotFoundException("app " + appId + " does not exist");
              }
              return new RotatedSecret(
                  secret, rows.iterator().next().getOffsetDateTime(0).toInstant());
            });
  }

  /** The app, or empty if it does not exist (any more). */
  public Future<Optional<App>> find(UUID appId) {
    return pool.preparedQuery("SELECT " + COLUMNS + " FROM apps WHERE app_id = $1")
        .execute(Tuple.of(appId))
        .map(
            rows ->
                rows.size() == 0 ? Optional.empty() : Optional.of(toApp(rows.iterator().next())));
  }

  /** Sets the app's lifecycle state ({@code active} or {@code frozen}); returns the app. */
  public Future<App> setState(UUID appId, String state) {
    return pool.preparedQuery("UPDATE apps SET state = $2 WHERE app_id = $1 RETURNING " + COLUMNS)
        .execute(Tuple.of(appId, state))
        .map(rows -> single(rows, appId));
  }

  /**
   * Deletes the app; its grants and checkpoints go with it (foreign keys cascade). Its token stops
   * working with the commit.
   */
  public Future<Void> delete(UUID appId) {
    // its Redis hashes are swept later (appSweepsDue); the row that says so commits with the delete
    return pool.preparedQuery(
            "WITH gone AS (DELETE FROM apps WHERE app_id = $1 RETURNING app_id)"
                + " INSERT INTO app_sweeps (app_id) SELECT app_id FROM gone"
                + " ON CONFLICT (app_id) DO UPDATE SET deleted_at = now()")
        .execute(Tuple.of(appId))
        .compose(
            rows ->
                rows.rowCount() == 0
                    ? Future.failedFuture(new NotFoundException("app " + appId + " does not exist"))
                    : Future.succeededFuture());
  }

  /**
   * Deleted apps whose Redis hashes are still to be swept, deleted more than {@code olderThan} ago
   * (the database's clock), oldest first, at most {@code limit}; read {@code on} a connection or
   * pool.
   */
  public Future<List<UUID>> appSweepsDue(
      io.vertx.sqlclient.SqlClient on, java.time.Duration olderThan, int limit) {
    return on.preparedQuery(
            "SELECT app_id FROM app_sweeps"
                + " WHERE deleted_at < now() - $1::bigint * interval '1 millisecond'"
                + " ORDER BY deleted_at LIMIT $2")
        .execute(Tuple.of(olderThan.toMillis(), limit))
        .map(
            rows -> {
              List<UUID> ids = new ArrayList<>(rows.size());
              rows.forEach(r -> ids.add(r.getUUID(0)));
              return ids;
            });
  }

  /** How many deleted apps' Redis hashes are still to be swept. */
  public Future<Long> appSweepsPending() {
    return pool.query("SELECT count(*) FROM app_sweeps")
        .execute()
        .map(rows -> rows.iterator().next().getLong(0));
  }

  /** These deleted apps' Redis hashes are swept for good. */
  public Future<Void> appsSwept(io.vertx.sqlclient.SqlClient on, List<UUID> appIds) {
    return on.preparedQuery("DELETE FROM app_sweeps WHERE app_id = ANY($1)")
        .execute(Tuple.of(appIds.toArray(UUID[]::new)))
        .mapEmpty();
  }

  /**
   * Replaces the app token; the old one keeps working for {@code grace}. Returns the new token, the
   * only time it is shown, and when the old one stops working (the database's clock).
   */
  public Future<RotatedToken> rotateToken(UUID appId, java.time.Duration grace) {
    String token = Credentials.newToken();
    return pool.preparedQuery(
            "UPDATE apps SET previous_token_hash = token_hash,"
                + " previous_token_expires_at = now() + $3 * interval '1 millisecond', token_hash = $2"
                + " WHERE app_id = $1 RETURNING previous_token_expires_at")
        .execute(Tuple.of(appId, Buffer.buffer(Credentials.hashToken(token)), grace.toMillis()))
        .map(
            rows -> {
              if (rows.size() == 0) {
                throw new NotFoundException("app " + appId + " does not exist");
              }
              return new RotatedToken(
                  token, rows.iterator().next().getOffsetDateTime(0).toInstant());
            });
  }

  /**
   * Every app's control version: bumped by each change other nodes must follow (see the V6
   * migration). Read periodically by every node to catch changes whose notice it missed.
   */
  public Future<java.util.Map<UUID, Long>> controlVersions() {
    return pool.query("SELECT app_id, control_version FROM apps")
        .execute()
        .map(
            rows -> {
              java.util.Map<UUID, Long> versions = new java.util.HashMap<>(rows.size() * 2);
              rows.forEach(r -> versions.put(r.getUUID(0), r.getLong(1)));
              return versions;
            });
  }

  /** Every callback app, for the delivery to serve (paged by the caller). */
  public Future<List<App>> callbackApps(int limit, Optional<UUID> after) {
    return pool.preparedQuery(
            "SELECT "
                + COLUMNS
                + " FROM apps WHERE delivery_mode = 'callback'"
                + " AND ($1::uuid IS NULL OR app_id > $1) ORDER BY app_id LIMIT $2")
        .execute(Tuple.of(after.orElse(null), limit))
        .map(AppStore::toApps);
  }

  /**
   * Records what a node's deliveries say of the endpoint, {@code active} or {@code failing}, unless
   * it is stored as suspended: a suspension (an operator's, or a 410 on another node) ends only by
   * a resume, never by a late write of a delivery outcome. Answers the state stored after it
   * ({@code suspended} when it was), or {@code state} if the app is gone.
   */
  public Future<String> setEndpointHealth(UUID appId, String state) {
    return pool.preparedQuery(
            "UPDATE apps SET endpoint_state = $2 WHERE app_id = $1"
                + " AND endpoint_state <> 'suspended'")
        .execute(Tuple.of(appId, state))
        .compose(
            written ->
                written.rowCount() == 1
                    ? Future.succeededFuture(state)
                    // a statement of its own: it sees a suspension committed while the update
                    // waited for the row
                    : pool.preparedQuery("SELECT endpoint_state FROM apps WHERE app_id = $1")
                        .execute(Tuple.of(appId))
                        .map(
                            rows ->
                                rows.size() == 0 ? state : rows.iterator().next().getString(0)));
  }

  /**
   * Records a callback endpoint's state as an operator or a 410 sets it: {@code suspended}, or
   * {@code active} on a resume.
   */
  public Future<Void> setEndpointState(UUID appId, String state) {
    return pool.preparedQuery("UPDATE apps SET endpoint_state = $2 WHERE app_id = $1")
        .execute(Tuple.of(appId, state))
        .compose(
            rows ->
                rows.rowCount() == 0
                    ? Future.failedFuture(new NotFoundException("app " + appId + " does not exist"))
                    : Future.succeededFuture());
  }

  private String open(Buffer sealed, String keyId, UUID appId) {
    return new String(
        cipher.decrypt(sealed.getBytes(), keyId, associatedData(appId)), StandardCharsets.UTF_8);
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
        r.getString("endpoint_state"),
        r.getOffsetDateTime("created_at").toInstant());
  }

  /** What binds a sealed secret to its row; {@link SecretResealer} seals with the same. */
  static byte[] associatedData(UUID appId) {
    return ByteBuffer.allocate(16)
        .putLong(appId.getMostSignificantBits())
        .putLong(appId.getLeastSignificantBits())
        .array();
  }
}
