package io.orderpush.persistence.events;

import io.vertx.core.Future;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlClient;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * Creates the day partitions of the event tables ahead of time. Ingest writes into the partition of
 * the current UTC day; there is no default partition, so a day without a partition would fail
 * ingest loudly rather than silently filling an unpartitioned heap. Run at startup and hourly.
 */
public final class PartitionMaintainer {

  static final List<String> TABLES = List.of("event_chunks", "event_keys");

  private static final DateTimeFormatter SUFFIX = DateTimeFormatter.ofPattern("yyyyMMdd");

  private final Pool pool;
  private final int daysAhead;
  private final List<String> tables;

  public PartitionMaintainer(Pool pool, int daysAhead) {
    this(pool, daysAhead, TABLES);
  }

  /**
   * Maintains the day partitions of other tables range-partitioned the same way (by a timestamptz,
   * UTC days), each set with its own retention: the audit trail's, say.
   */
  public PartitionMaintainer(Pool pool, int daysAhead, List<String> tables) {
    this.pool = pool;
    this.daysAhead = daysAhead;
    this.tables = List.copyOf(tables);
  }

  /** Ensures partitions exist from yesterday to {@code daysAhead} days from today (UTC). */
  public Future<Void> ensurePartitions() {
    return ensurePartitions(pool);
  }

  /** {@link #ensurePartitions()} through {@code client} (a connection holding a chore's lock). */
  public Future<Void> ensurePartitions(SqlClient client) {
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    List<String> ddl = new ArrayList<>();
    for (LocalDate day = today.minusDays(1);
        !day.isAfter(today.plusDays(daysAhead));
        day = day.plusDays(1)) {
      for (String table : tables) {
        ddl.add(createPartition(table, day));
        if (table.equals("event_keys")) {
          ddl.add(createKeysIndex(day));
        }
      }
    }
    Future<Void> chain = Future.succeededFuture();
    for (String statement : ddl) {
      chain =
          chain.compose(
              v ->
                  client
                      .query(statement)
                      .execute()
                      .<Void>mapEmpty()
                      .recover(PartitionMaintainer::ignoreRace));
    }
    return chain;
  }

  // Table names and bounds come from LocalDate only, never from input, so building DDL is safe;
  // PostgreSQL cannot take identifiers or partition bounds as parameters.
  static String createPartition(String table, LocalDate day) {
    return "CREATE TABLE IF NOT EXISTS "
        + table
        + "_"
        + SUFFIX.format(day)
        + " PARTITION OF "
        + table
        + " FOR VALUES FROM ('"
        + day
        + " 00:00:00+00') TO ('"
        + day.plusDays(1)
        + " 00:00:00+00')";
  }

  /**
   * The unique index of a day's event_keys partition (V12): a repeated event id within the day
   * fails the INSERT that stores its key. Looked up first: CREATE INDEX IF NOT EXISTS would take
   * the partition's share lock, waiting for ingest and holding it up, even when the index exists.
   */
  static String createKeysIndex(LocalDate day) {
    String partition = "event_keys_" + SUFFIX.format(day);
    return "DO $$ BEGIN IF to_regclass('"
        + partition
        + "_key') IS NULL THEN CREATE UNIQUE INDEX IF NOT EXISTS "
        + partition
        + "_key ON "
        + partition
        + " (merchant_id, event_id); END IF; END $$";
  }

  /**
   * Removes whole days older than {@code retentionDays} (a day goes once all of it is older): each
   * partition is first detached CONCURRENTLY, which does not block ingest into the current day,
   * then dropped. No row-by-row DELETE ever runs over the hot tables. Returns the partitions
   * dropped.
   */
  public Future<List<String>> dropExpired(int retentionDays) {
    return dropExpired(pool, retentionDays);
  }

  /** {@link #dropExpired(int)} through {@code client} (a connection holding a chore's lock). */
  public Future<List<String>> dropExpired(SqlClient client, int retentionDays) {
    LocalDate firstKept = LocalDate.now(ZoneOffset.UTC).minusDays(retentionDays);
    return client
        .preparedQuery(
            "SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                + " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY($1)")
        .execute(io.vertx.sqlclient.Tuple.of(tables.toArray(String[]::new)))
        .compose(
            rows -> {
              List<String[]> expired = new ArrayList<>();
              for (var r : rows) {
                LocalDate day = dayOf(tables, r.getString(0), r.getString(1));
                if (day != null && day.isBefore(firstKept)) {
                  expired.add(new String[] {r.getString(0), r.getString(1)});
                }
              }
              Future<List<String>> chain = Future.succeededFuture(new ArrayList<>());
              for (String[] e : expired) {
                chain =
                    chain.compose(
                        done ->
                            drop(client, e[0], e[1])
                                .map(
                                    v -> {
                                      done.add(e[1]);
                                      return done;
                                    }));
              }
              return chain;
            });
  }

  // Names come from the catalog and match table_yyyyMMdd exactly (checked by dayOf), never from
  // input.
  private static Future<Void> drop(SqlClient client, String parent, String child) {
    return client
        .query("ALTER TABLE " + parent + " DETACH PARTITION " + child + " CONCURRENTLY")
        .execute()
        .<Void>mapEmpty()
        .recover(
            err ->
                client
                    .query("ALTER TABLE " + parent + " DETACH PARTITION " + child + " FINALIZE")
                    .execute()
                    .<Void>mapEmpty()
                    .recover(again -> Future.failedFuture(err)))
        .compose(v -> client.query("DROP TABLE IF EXISTS " + child).execute().mapEmpty());
  }

  /** The day of a partition named {@code parent_yyyyMMdd}, or null for anything else. */
  static LocalDate dayOf(String parent, String child) {
    return dayOf(TABLES, parent, child);
  }

  static LocalDate dayOf(List<String> tables, String parent, String child) {
    if (!tables.contains(parent)
        || !child.matches(java.util.regex.Pattern.quote(parent) + "_[0-9]{8}")) {
      return null;
    }
    try {
      return LocalDate.parse(child.substring(parent.length() + 1), SUFFIX);
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  /** Two nodes creating the same partition at once: the loser sees a duplicate; that is fine. */
  private static Future<Void> ignoreRace(Throwable err) {
    if (err instanceof PgException pg
        && ("42P07".equals(pg.getSqlState()) || "23505".equals(pg.getSqlState()))) {
      return Future.succeededFuture();
    }
    return Future.failedFuture(err);
  }
}
