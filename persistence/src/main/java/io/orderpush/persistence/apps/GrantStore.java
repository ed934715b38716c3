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
  private static final String UPSERT =
      "INSERT INTO grants (app_id, merchant_id, scopes, start_seq, event_types)"
          + " SELECT $1, $2, $3,"
          + "   CASE WHEN $4 THEN 0 ELSE coalesce((SELECT head_seq FROM merchants WHERE merchant_id = $2), 0) END,"
          + "   $5"
          + " ON CONFLICT (app_id, merchant_id) DO UPDATE SET scopes = excluded.scopes,"
          + " event_types = excluded.event_types"
          + " RETURNING "
          + COLUMNS;

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
   * active}, {@code frozen}; null once deleted) and its grant of the merchant if it has one.
   */
  public record Access(String appState, java.util.Optional<Grant> grant) {}

  /** {@link Access} of (app, merchant), in one query. */
  public Future<Access> access(UUID appId, String merchantId) {
    return pool.preparedQuery(
            "SELECT a.state, g.app_id, g.merchant_id, g.scopes, g.start_seq,"
                + " g.start_seq AS resume_from, g.granted_at, g.event_types"
                + " FROM apps a LEFT JOIN grants g ON g.app_id = a.app_id AND g.merchant_id = $2"
                + " WHERE a.app_id = $1")
        .execute(Tuple.of(appId, merchantId))
        .map(
            rows -> {
              if (rows.size() == 0) {
                return new Access(null, java.util.Optional.empty()); // deleted
              }
              Row r = rows.iterator().next();
              return new Access(
                  r.getString("state"),
                  r.getUUID("app_id") == null
                      ? java.util.Optional.empty()
                      : java.util.Optional.of(toGrant(r)));
            });
  }

  /**
   * Removes the grant; answers when it was granted (its version). Fails with {@link
   * NotFoundException} if there was none.
   */
  public Future<Instant> revoke(UUID appId, String merchantId) {
    return pool.preparedQuery(
            "WITH gone AS (DELETE FROM grants WHERE app_id = $1 AND merchant_id = $2"
                + " RETURNING granted_at),"
                + " forget AS (DELETE FROM cursor_checkpoints WHERE app_id = $1 AND merchant_id = $2)"
                + " SELECT granted_at FROM gone")
        .execute(Tuple.of(appId, merchantId))
        .compose(
            rows ->
                rows.size() == 0
                    ? Future.failedFuture(
                        new NotFoundException(
                            "merchant " + merchantId + " has no grant for app " + appId))
                    : Future.succeededFuture(
                        rows.iterator().next().getOffsetDateTime(0).toInstant()));
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
