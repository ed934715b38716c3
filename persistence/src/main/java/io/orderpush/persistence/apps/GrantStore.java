package io.orderpush.persistence.apps;

import io.vertx.core.Future;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

/** Merchants' grants to apps. */
public final class GrantStore {

  private static final String COLUMNS =
      "app_id, merchant_id, scopes, start_seq, start_seq AS resume_from, granted_at, event_types";

  // A new grant starts after the merchant's current head (only new events) unless the
  // grant asks for the earliest retained event. Re-granting changes scopes and event types, not
  // the start.
  // A new grant row also drops any checkpoint of (app, merchant): one left by a checkpoint write
  // that raced the revoke of an earlier grant (its grant check saw the old grant; the revoke's
  // delete did not see its row) must not be where the new grant starts.
  private static final String UPSERT =
      "WITH g AS (INSERT INTO grants (app_id, merchant_id, scopes, start_seq, event_types)"
          + " SELECT $1, $2, $3,"
          + "   CASE WHEN $4 THEN 0 ELSE coalesce((SELECT head_seq FROM merchants WHERE merchant_id = $2), 0) END,"
          + "   $5"
          + " ON CONFLICT (app_id, merchant_id) DO UPDATE SET scopes = excluded.scopes,"
          + " event_types = excluded.event_types"
          + " RETURNING "
          + COLUMNS
          + ", xmax = 0 AS inserted),"
          + " stale AS (DELETE FROM cursor_checkpoints c USING g"
          + "   WHERE g.inserted AND c.app_id = g.app_id AND c.merchant_id = g.merchant_id)"
          + " SELECT app_id, merchant_id, scopes, start_seq, resume_from, granted_at, event_types"
          + " FROM g";

  private final Pool pool;

  public GrantStore(Pool pool) {
    this.pool = pool;
  }

  public Future<Grant> grant(
      UUID appId, String merchantId, List<String> scopes, boolean fromEarliest) {
    return grant(appId, merchantId, scopes, fromEarliest, List.of());
  }

  /**
   * Grants (or grants again, changing scopes and event types but not the start) in one statement:
   * nothing is half-written.
   *
   * @param eventTypes the subscription, validated by the caller; empty: every type
   */
  public Future<Grant> grant(
      UUID appId,
      String merchantId,
      List<String> scopes,
      boolean fromEarliest,
      List<String> eventTypes) {
    return pool.preparedQuery(UPSERT)
        .execute(
            Tuple.of(
                appId,
                merchantId,
                scopes.toArray(String[]::new),
                fromEarliest,
                eventTypes.toArray(String[]::new)))
        .<Grant>map(rows -> toGrant(rows.iterator().next()))
        .recover(
            err -> {
              if (err instanceof PgException pg && "23503".equals(pg.getSqlState())) {
                return Future.failedFuture(
                    new NotFoundException("app " + appId + " does not exist"));
              }
              return Future.failedFuture(err);
            });
  }

  /** The grant of (app, merchant), if there is one. */
  public Future<java.util.Optional<Grant>> find(UUID appId, String merchantId) {
    return pool.preparedQuery(
            "SELECT " + COLUMNS + " FROM grants WHERE app_id = $1 AND merchant_id = $2")
        .execute(Tuple.of(appId, merchantId))
        .map(
            rows ->
                rows.size() == 0
                    ? java.util.Optional.empty()
                    : java.util.Optional.of(toGrant(rows.iterator().next())));
  }

  /**
   * What a delivery in progress, such as a replay, checks before each page: the app's state ({@code
   * active}, {@code frozen}; null once deleted), whether the token it was asked with is still valid
   * (its current token, or the previous one within its rotation's grace period), and its grant of
   * the merchant if it has one.
   */
  public record Access(String appState, boolean tokenValid, java.util.Optional<Grant> grant) {}

  /**
   * {@link Access} of (app, merchant) for a request made with the token hashed as {@code
   * tokenHash}, in one query.
   */
  public Future<Access> access(UUID appId, String merchantId, byte[] tokenHash) {
    return pool.preparedQuery(
            "SELECT a.state, g.app_id, g.merchant_id, g.scopes, g.start_seq,"
                + " g.start_seq AS resume_from, g.granted_at, g.event_types,"
                + " (a.token_hash = $3 OR (a.previous_token_hash = $3"
                + " AND a.previous_token_expires_at > now())) AS token_valid"
                + " FROM apps a LEFT JOIN grants g ON g.app_id = a.app_id AND g.merchant_id = $2"
                + " WHERE a.app_id = $1")
        .execute(Tuple.of(appId, merchantId, io.vertx.core.buffer.Buffer.buffer(tokenHash)))
        .map(
            rows -> {
              if (rows.size() == 0) {
                return new Access(null, false, java.util.Optional.empty()); // deleted
              }
              Row r = rows.iterator().next();
              return new Access(
                  r.getString("state"),
                  Boolean.TRUE.equals(r.getBoolean("token_valid")),
                  r.getUUID("app_id") == null
                      ? java.util.Optional.empty()
                      : java.util.Optional.of(toGrant(r)));
            });
  }

  /**
   * Removes the grant; answers when it was granted (its version). The channel's hash in Redis is to
   * expire {@code ttl} later: a row in {@code revoked_channels} says so, in the same statement
   * ({@link #revokedChannelsDue}). Fails with {@link NotFoundException} if there was none.
   */
  public Future<Instant> revoke(UUID appId, String merchantId, java.time.Duration ttl) {
    return pool.preparedQuery(
            "WITH gone AS (DELETE FROM grants WHERE app_id = $1 AND merchant_id = $2"
                + " RETURNING granted_at),"
                + " forget AS (DELETE FROM cursor_checkpoints WHERE app_id = $1 AND merchant_id = $2),"
                + " noted AS (INSERT INTO revoked_channels"
                + " (app_id, merchant_id, grant_version, ttl_ms)"
                + " SELECT $1, $2, "
                + GRANT_VERSION
                + ", $3 FROM gone ON CONFLICT DO NOTHING)"
                + " SELECT granted_at FROM gone")
        .execute(Tuple.of(appId, merchantId, ttl.toMillis()))
        .compose(
            rows ->
                rows.size() == 0
                    ? Future.failedFuture(
                        new NotFoundException(
                            "merchant " + merchantId + " has no grant for app " + appId))
                    : Future.succeededFuture(
                        rows.iterator().next().getOffsetDateTime(0).toInstant()));
  }

  /**
   * A grant's version as a channel's hash records it ({@code granted_at} in epoch milliseconds,
   * truncated, as {@link Instant#toEpochMilli()} gives it), exact on any PostgreSQL version.
   */
  public static final String GRANT_VERSION =
      "round(extract(epoch FROM date_trunc('milliseconds', granted_at)) * 1000)::bigint";

  /**
   * A revoked grant whose channel hash in Redis is still to be given its expiry.
   *
   * @param left how much of its time in Redis is left (the database's clock); zero or less: none
   */
  public record RevokedChannel(
      UUID appId, String merchantId, long grantVersion, java.time.Duration left) {}

  /**
   * Revoked grants whose channel hash is still to expire, revoked more than {@code olderThan} ago,
   * oldest first, at most {@code limit}; read {@code on} a connection or pool.
   */
  public Future<List<RevokedChannel>> revokedChannelsDue(
      io.vertx.sqlclient.SqlClient on, java.time.Duration olderThan, int limit) {
    return on.preparedQuery(
            "SELECT app_id, merchant_id, grant_version,"
                + " ttl_ms - floor(extract(epoch FROM now() - revoked_at) * 1000)::bigint"
                + " FROM revoked_channels"
                + " WHERE revoked_at < now() - $1::bigint * interval '1 millisecond'"
                + " ORDER BY revoked_at LIMIT $2")
        .execute(Tuple.of(olderThan.toMillis(), limit))
        .map(
            rows -> {
              List<RevokedChannel> due = new ArrayList<>(rows.size());
              rows.forEach(
                  r ->
                      due.add(
                          new RevokedChannel(
                              r.getUUID(0),
                              r.getString(1),
                              r.getLong(2),
                              java.time.Duration.ofMillis(r.getLong(3)))));
              return due;
            });
  }

  /** These revoked channels' hashes have their expiry (or need none): their rows go. */
  public Future<Void> revokedChannelsDone(
      io.vertx.sqlclient.SqlClient on, List<RevokedChannel> done) {
    if (done.isEmpty()) {
      return Future.succeededFuture();
    }
    return on.preparedQuery(
            "DELETE FROM revoked_channels r USING unnest($1::uuid[], $2::text[], $3::bigint[])"
                + " AS d(a, m, v) WHERE r.app_id = d.a AND r.merchant_id = d.m"
                + " AND r.grant_version = d.v")
        .execute(
            Tuple.tuple()
                .addArrayOfUUID(done.stream().map(RevokedChannel::appId).toArray(UUID[]::new))
                .addArrayOfString(
                    done.stream().map(RevokedChannel::merchantId).toArray(String[]::new))
                .addArrayOfLong(
                    done.stream().map(RevokedChannel::grantVersion).toArray(Long[]::new)))
        .mapEmpty();
  }

  /** How many revoked channels' hashes are still to be given their expiry. */
  public Future<Long> revokedChannelsPending() {
    return pool.query("SELECT count(*) FROM revoked_channels")
        .execute()
        .map(rows -> rows.iterator().next().getLong(0));
  }

  /** Whether the app exists (its grants list is empty either way when it does not). */
  public Future<Boolean> appExists(UUID appId) {
    return pool.preparedQuery("SELECT 1 FROM apps WHERE app_id = $1")
        .execute(Tuple.of(appId))
        .map(rows -> rows.size() > 0);
  }

  public Future<List<Grant>> forApp(UUID appId, int limit, String afterMerchant) {
    return pool.preparedQuery(
            "SELECT g.app_id, g.merchant_id, g.scopes, g.start_seq, coalesce(c.cursor, g.start_seq) AS resume_from,"
                + " g.granted_at, g.event_types FROM grants g LEFT JOIN cursor_checkpoints c"
                + " ON c.app_id = g.app_id AND c.merchant_id = g.merchant_id"
                + " WHERE g.app_id = $1 AND g.merchant_id > $2 ORDER BY g.merchant_id LIMIT $3")
        .execute(Tuple.of(appId, afterMerchant, limit))
        .map(
            rows -> {
              List<Grant> grants = new ArrayList<>(rows.size());
              rows.forEach(r -> grants.add(toGrant(r)));
              return grants;
            });
  }

  private static Grant toGrant(Row r) {
    return new Grant(
        r.getUUID("app_id"),
        r.getString("merchant_id"),
        Arrays.asList(r.getArrayOfStrings("scopes")),
        r.getLong("start_seq"),
        r.getLong("resume_from"),
        r.getOffsetDateTime("granted_at").toInstant(),
        Arrays.asList(r.getArrayOfStrings("event_types")));
  }
}
