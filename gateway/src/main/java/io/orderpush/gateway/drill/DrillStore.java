package io.orderpush.gateway.drill;

import io.orderpush.gateway.http.ApiException;
import io.orderpush.persistence.apps.GrantStore;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * App drills in PostgreSQL: the drill, its sandbox merchants and their grants, its per-second
 * samples and its report. Every statement is parameterized; a drill's merchants are found by their
 * id prefix {@code sandbox:<drill>:}, which the C collation of merchant ids lets an index serve.
 */
public final class DrillStore {

  /** One running drill as nodes need it: which app to watch, and since when. */
  public record Running(String drillId, UUID appId, long startedAtMs) {}

  private static final String COLUMNS =
      "drill_id, app_id, state, settings, node_id, stop_reason,"
          + " (extract(epoch FROM started_at) * 1000)::bigint,"
          + " (extract(epoch FROM ended_at) * 1000)::bigint, summary";

  private final Pool pool;

  public DrillStore(Pool pool) {
    this.pool = pool;
  }

  /** The prefix of the drill's merchant ids. */
  public static String prefix(String drillId) {
    return "sandbox:" + drillId + ":";
  }

  /**
   * Records a new running drill with its merchants (marked as the drill's) granted to its app from
   * seq 0, in one transaction: all or nothing. Fails with 409 when the app already has a running
   * drill or {@code maxRunning} drills run already.
   */
  public Future<Void> create(
      String drillId,
      UUID appId,
      JsonObject settings,
      String nodeId,
      List<String> merchantIds,
      int maxRunning) {
    return pool.withTransaction(
        conn ->
            // one creator at a time, so two starts cannot both pass the checks below
            conn.query("SELECT pg_advisory_xact_lock(hashtext('orderpush.drills'))")
                .execute()
                .compose(
                    v ->
                        conn.preparedQuery(
                                "SELECT count(*), count(*) FILTER (WHERE app_id = $1)"
                                    + " FROM drills WHERE state = 'running'")
                            .execute(Tuple.of(appId)))
                .compose(
                    rows -> {
                      Row r = rows.iterator().next();
                      if (r.getLong(1) > 0) {
                        return Future.failedFuture(
                            new ApiException(
                                409, "drill_running", "this app already has a drill running"));
                      }
                      if (r.getLong(0) >= maxRunning) {
                        return Future.failedFuture(
                            new ApiException(
                                409,
                                "too_many_drills",
                                "at most "
                                    + maxRunning
                                    + " drills run at once (drill.max-running)"));
                      }
                      return conn.preparedQuery(
                              "INSERT INTO drills (drill_id, app_id, state, settings, node_id)"
                                  + " VALUES ($1, $2, 'running', $3, $4)")
                          .execute(Tuple.of(drillId, appId, settings, nodeId));
                    })
                .compose(
                    v ->
                        conn.preparedQuery(
                                "INSERT INTO merchants (merchant_id, drill_id)"
                                    + " SELECT m, $2 FROM unnest($1::text[]) AS t(m)")
                            .execute(Tuple.of(merchantIds.toArray(String[]::new), drillId)))
                .compose(
                    v ->
                        conn.preparedQuery(
                                "INSERT INTO grants (app_id, merchant_id, start_seq)"
                                    + " SELECT $2, m, 0 FROM unnest($1::text[]) AS t(m)")
                            .execute(Tuple.of(merchantIds.toArray(String[]::new), appId)))
                .mapEmpty());
  }

  public Future<Optional<JsonObject>> find(String drillId) {
    return pool.preparedQuery("SELECT " + COLUMNS + " FROM drills WHERE drill_id = $1")
        .execute(Tuple.of(drillId))
        .map(
            rows ->
                rows.size() == 0 ? Optional.empty() : Optional.of(json(rows.iterator().next())));
  }

  /** The newest drills first, at most {@code limit}. */
  public Future<List<JsonObject>> list(int limit) {
    return pool.preparedQuery(
            "SELECT " + COLUMNS + " FROM drills ORDER BY started_at DESC, drill_id LIMIT $1")
        .execute(Tuple.of(limit))
        .map(
            rows -> {
              List<JsonObject> out = new ArrayList<>();
              rows.forEach(r -> out.add(json(r)));
              return out;
            });
  }

  private static JsonObject json(Row r) {
    return new JsonObject()
        .put("drillId", r.getString(0))
        .put("appId", r.getUUID(1).toString())
        .put("state", r.getString(2))
        .put("settings", r.getJsonObject(3))
        .put("node", r.getString(4))
        .put("stopReason", r.getString(5))
        .put("startedAtMs", r.getLong(6))
        .put("endedAtMs", r.getLong(7))
        .put("summary", r.getJsonObject(8));
  }

  /** The drills running now, for every node's probe. */
  public Future<List<Running>> running() {
    return pool.query(
            "SELECT drill_id, app_id, (extract(epoch FROM started_at) * 1000)::bigint"
                + " FROM drills WHERE state = 'running'")
        .execute()
        .map(
            rows -> {
              List<Running> out = new ArrayList<>();
              rows.forEach(r -> out.add(new Running(r.getString(0), r.getUUID(1), r.getLong(2))));
              return out;
            });
  }

  /**
   * Stops a running drill: state {@code stopped} with the reason, and its merchants' grants revoked
   * in the same transaction, so nothing more of it reaches the app. Answers the app when the drill
   * was running, empty otherwise.
   */
  public Future<Optional<UUID>> stop(String drillId, String reason) {
    return pool.withTransaction(
        conn ->
            conn.preparedQuery(
                    "UPDATE drills SET state = 'stopped', stop_reason = $2, ended_at = now()"
                        + " WHERE drill_id = $1 AND state = 'running' RETURNING app_id")
                .execute(Tuple.of(drillId, reason))
                .compose(
                    rows -> {
                      if (rows.size() == 0) {
                        return Future.succeededFuture(Optional.<UUID>empty());
                      }
                      UUID app = rows.iterator().next().getUUID(0);
                      return revokeAll(conn, drillId).map(v -> Optional.of(app));
                    }));
  }

  /** Revokes the drill's sandbox grants ({@link #revokeAll}): a drill that finished. */
  public Future<Void> revokeGrants(String drillId) {
    return pool.withTransaction(conn -> revokeAll(conn, drillId));
  }

  /**
   * Revokes the drill's sandbox grants; their channels' hashes in Redis are to expire after {@link
   * Drills#SANDBOX_CHANNEL_TTL} ({@code revoked_channels}: the app-sweeps chore sees to it if the
   * node that ends the drill cannot).
   */
  private static Future<Void> revokeAll(io.vertx.sqlclient.SqlConnection conn, String drillId) {
    return conn.preparedQuery(
            "WITH gone AS (DELETE FROM grants WHERE merchant_id LIKE $1"
                + " RETURNING app_id, merchant_id, granted_at)"
                + " INSERT INTO revoked_channels (app_id, merchant_id, grant_version, ttl_ms)"
                + " SELECT app_id, merchant_id, "
                + GrantStore.GRANT_VERSION
                + ", $2 FROM gone ON CONFLICT DO NOTHING")
        .execute(Tuple.of(prefix(drillId) + "%", Drills.SANDBOX_CHANNEL_TTL.toMillis()))
        .mapEmpty();
  }

  /**
   * Ends a drill the runner finished or stopped (only while it is running or was just stopped: a
   * drill deleted meanwhile stays deleted) and stores its report.
   */
  public Future<Void> finish(
      String drillId, String state, String reason, JsonObject summary, String md, String html) {
    return pool.preparedQuery(
            "UPDATE drills SET state = CASE WHEN state = 'running' THEN $2 ELSE state END,"
                + " stop_reason = coalesce(stop_reason, $3),"
                + " ended_at = coalesce(ended_at, now()),"
                + " summary = $4, report_md = $5, report_html = $6 WHERE drill_id = $1")
        .execute(Tuple.of(drillId, state, reason, summary, md, html))
        .mapEmpty();
  }

  /** The state of the drill now, or empty once deleted. */
  public Future<Optional<String>> state(String drillId) {
    return pool.preparedQuery("SELECT state FROM drills WHERE drill_id = $1")
        .execute(Tuple.of(drillId))
        .map(
            rows ->
                rows.size() == 0
                    ? Optional.empty()
                    : Optional.of(rows.iterator().next().getString(0)));
  }

  /** The stored report: {@code md} or {@code html}; empty when there is none (yet). */
  public Future<Optional<String>> report(String drillId, boolean html) {
    return pool.preparedQuery(
            "SELECT " + (html ? "report_html" : "report_md") + " FROM drills WHERE drill_id = $1")
        .execute(Tuple.of(drillId))
        .map(
            rows ->
                rows.size() == 0
                    ? Optional.empty()
                    : Optional.ofNullable(rows.iterator().next().getString(0)));
  }

  /** Stores one node's seconds; a second written again replaces the node's earlier row. */
  public Future<Void> writeSamples(String drillId, String nodeId, List<DrillSecond> seconds) {
    if (seconds.isEmpty()) {
      return Future.succeededFuture();
    }
    List<Tuple> batch = new ArrayList<>();
    for (DrillSecond s : seconds) {
      batch.add(Tuple.of(drillId, nodeId, s.t(), s.toJson()));
    }
    return pool.preparedQuery(
            "INSERT INTO drill_samples (drill_id, node_id, t, sample)"
                + " SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM drills WHERE drill_id = $1)"
                + " ON CONFLICT (drill_id, node_id, t) DO UPDATE SET sample = excluded.sample")
        .executeBatch(batch)
        .mapEmpty();
  }

  /** Every node's seconds of the drill, in order of t. */
  public Future<List<DrillSecond>> samples(String drillId) {
    return pool.preparedQuery(
            "SELECT sample FROM drill_samples WHERE drill_id = $1 ORDER BY t, node_id")
        .execute(Tuple.of(drillId))
        .map(
            rows -> {
              List<DrillSecond> out = new ArrayList<>();
              rows.forEach(r -> out.add(DrillSecond.fromJson(r.getJsonObject(0))));
              return out;
            });
  }

  /** Sandbox events acknowledged so far, summed over every node's seconds. */
  public Future<Long> acked(String drillId) {
    return pool.preparedQuery(
            "SELECT coalesce(sum((sample->>'acked')::bigint), 0) FROM drill_samples"
                + " WHERE drill_id = $1")
        .execute(Tuple.of(drillId))
        .map(rows -> rows.iterator().next().getLong(0));
  }

  /** The drill's merchant ids. */
  public Future<List<String>> merchants(String drillId) {
    return pool.preparedQuery("SELECT merchant_id FROM merchants WHERE drill_id = $1")
        .execute(Tuple.of(drillId))
        .map(
            rows -> {
              List<String> out = new ArrayList<>();
              rows.forEach(r -> out.add(r.getString(0)));
              return out;
            });
  }

  /**
   * Removes the drill and everything of its merchants (grants, events, idempotency keys,
   * checkpoints, the merchants, samples, the drill) in one transaction. Answers the app, or empty
   * if there was no such drill. Redis cursors are the caller's to forget.
   */
  public Future<Optional<UUID>> delete(String drillId) {
    String like = prefix(drillId) + "%";
    return pool.withTransaction(
        conn ->
            conn.preparedQuery("DELETE FROM drills WHERE drill_id = $1 RETURNING app_id")
                .execute(Tuple.of(drillId))
                .compose(
                    rows -> {
                      if (rows.size() == 0) {
                        return Future.succeededFuture(Optional.<UUID>empty());
                      }
                      UUID app = rows.iterator().next().getUUID(0);
                      Future<Void> f = revokeAll(conn, drillId);
                      for (String table :
                          List.of("event_chunks", "event_keys", "cursor_checkpoints")) {
                        f =
                            f.compose(
                                v ->
                                    conn.preparedQuery(
                                            "DELETE FROM " + table + " WHERE merchant_id LIKE $1")
                                        .execute(Tuple.of(like))
                                        .mapEmpty());
                      }
                      return f.compose(
                              v ->
                                  conn.preparedQuery("DELETE FROM merchants WHERE drill_id = $1")
                                      .execute(Tuple.of(drillId)))
                          .map(v -> Optional.of(app));
                    }));
  }

  /**
   * Marks as failed, with their sandbox grants revoked, the drills whose load is gone: those this
   * node ran before it restarted, and those whose node has written no second of load for {@code
   * staleS} seconds (it died, or lost PostgreSQL). Their sandbox channels get their expiry in Redis
   * from the app-sweeps chore ({@code revoked_channels}). Answers the apps whose grants changed.
   */
  public Future<List<UUID>> failOrphans(String nodeId, int staleS) {
    return pool.withTransaction(
        conn ->
            conn.preparedQuery(
                    "WITH failed AS ("
                        + " UPDATE drills d SET state = 'failed', ended_at = now(),"
                        + "  stop_reason = CASE WHEN d.node_id = $1"
                        + "   THEN 'the node running the drill restarted'"
                        + "   ELSE 'the node running the drill stopped running it' END"
                        + " WHERE d.state = 'running' AND (d.node_id = $1"
                        + "  OR (d.started_at < now() - make_interval(secs => $2)"
                        + "   AND NOT EXISTS (SELECT 1 FROM drill_samples s"
                        + "    WHERE s.drill_id = d.drill_id AND s.node_id = '_load'"
                        + "    AND s.t >= extract(epoch FROM now() - d.started_at) - $2)))"
                        + " RETURNING d.drill_id, d.app_id),"
                        + " revoked AS (DELETE FROM grants g USING failed f"
                        + "  WHERE g.merchant_id LIKE 'sandbox:' || f.drill_id || ':%'"
                        + "  RETURNING g.app_id, g.merchant_id, g.granted_at),"
                        // no node of the drill is left to set the sandbox channels' expiry in
                        // Redis: the app-sweeps chore does it (as for a revoke whose expiry failed)
                        + " noted AS (INSERT INTO revoked_channels"
                        + "  (app_id, merchant_id, grant_version, ttl_ms)"
                        + "  SELECT app_id, merchant_id, "
                        + GrantStore.GRANT_VERSION
                        + ", $3 FROM revoked ON CONFLICT DO NOTHING)"
                        + " SELECT DISTINCT app_id FROM failed")
                .execute(Tuple.of(nodeId, staleS, Drills.SANDBOX_CHANNEL_TTL.toMillis()))
                .map(
                    rows -> {
                      List<UUID> apps = new ArrayList<>();
                      rows.forEach(r -> apps.add(r.getUUID(0)));
                      return apps;
                    }));
  }
}
