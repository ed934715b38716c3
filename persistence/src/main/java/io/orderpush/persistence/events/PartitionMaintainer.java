package io.orderpush.persistence.events;

import io.vertx.core.Future;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.SqlClient;
import java.time.DayOfWeek;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.TemporalAdjusters;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Creates the partitions of the event tables ahead of time and drops those past retention. Ingest
 * writes into the partition of the current UTC day; there is no default partition, so a day without
 * a partition would fail ingest loudly rather than silently filling an unpartitioned heap. Run at
 * startup and hourly.
 *
 * <p>{@code event_chunks} (and the audit trail's tables) are partitioned by UTC day, {@code
 * table_yyyyMMdd}. {@code event_keys} is partitioned by UTC week, Monday to Monday, {@code
 * event_keys_wyyyyMMdd} (the Monday): ingest looks every new key up in each retained partition
 * other than the one it writes, so with a day each that was one probe per retained day; with a week
 * each it is one with 7 days of retention ({@link EventLog#keyWeeks}). Keys are then kept until all
 * of their week is past retention, up to six days longer than the events, which idempotency "within
 * retention" allows. Day partitions of {@code event_keys} made before (a week already holding some
 * keeps its days) are still recognized and dropped.
 *
 * <p>A partition is made with autovacuum's insert-triggered vacuum and its analyze off ({@link
 * #WRITTEN}) and is handed back to autovacuum once its day or week is over ({@link #settleVacuum}).
 * Otherwise autovacuum vacuums the partition being written each time it grows by a fifth, at most
 * once a minute: bursts of a second or two of a core that come in the middle of the peak. And it
 * analyzes it each time it grows by a tenth: an analyze of a partition of gigabytes holds its
 * snapshot for seconds, and meanwhile no dead version of a merchant's head (updated by every commit
 * that writes the merchant) can be pruned, so the heads' HOT chains grow, updates spill to other
 * pages and ingest slows (perf/README.md, "What slowed ingest run after run"). The events' and
 * keys' queries are index lookups by merchant, and the audit trail's by merchant or app or else a
 * scan of a time range: statistics would not change their plans. Once the period is over,
 * autovacuum vacuums and analyzes the partition once, at its throttled pace. The pages are read
 * once either way. A vacuum against wraparound still runs whenever PostgreSQL needs one.
 */
public final class PartitionMaintainer {

  private static final Logger LOG = LoggerFactory.getLogger(PartitionMaintainer.class);

  static final List<String> TABLES = List.of("event_chunks", "event_keys");

  /** Tables partitioned by week rather than by day. */
  static final List<String> WEEKLY = List.of("event_keys");

  /**
   * The storage options of a partition still written: no vacuum for its inserts, no analyze (the
   * largest threshold PostgreSQL takes). Spelled as {@code pg_class.reloptions} holds them.
   */
  static final List<String> WRITTEN =
      List.of("autovacuum_vacuum_insert_threshold=-1", "autovacuum_analyze_threshold=2147483647");

  private static final DateTimeFormatter SUFFIX = DateTimeFormatter.ofPattern("yyyyMMdd");

  /** The most days ahead {@link #daysAhead} counts. */
  static final int MAX_DAYS_AHEAD = 366;

  /** SQLSTATE of "partition would overlap partition": a week that already holds day partitions. */
  private static final String OVERLAP = "42P17";

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

  /** The tables this maintainer keeps partitions of. */
  public List<String> tables() {
    return tables;
  }

  /** Ensures partitions exist from yesterday to {@code daysAhead} days from today (UTC). */
  public Future<Void> ensurePartitions() {
    return ensurePartitions(pool);
  }

  /** {@link #ensurePartitions()} through {@code client} (a connection holding a chore's lock). */
  public Future<Void> ensurePartitions(SqlClient client) {
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    return ensurePartitions(client, today.minusDays(1), today.plusDays(daysAhead));
  }

  /**
   * Ensures every table has a partition holding each day from {@code first} to {@code last}: the
   * day's, or for a {@link #WEEKLY} table the week's, unless that week already holds day partitions
   * (made before partitions by week, or by an older node): then the day's. Which weeks hold days is
   * read from the catalog first: trying the week there would take the parent table's exclusive lock
   * (before PostgreSQL finds the overlap) every round, queueing ingest behind it. A partition that
   * exists costs no lock ({@code IF NOT EXISTS}).
   */
  public Future<Void> ensurePartitions(SqlClient client, LocalDate first, LocalDate last) {
    return partitions(client)
        .compose(
            existing -> {
              java.util.Set<String> weeksOfDays = new java.util.HashSet<>();
              for (String[] p : existing) {
                LocalDate[] range = rangeOf(tables, p[0], p[1]);
                if (range != null && WEEKLY.contains(p[0]) && !p[1].startsWith(p[0] + "_w")) {
                  weeksOfDays.add(partitionName(p[0], weekOf(range[0]), 7));
                }
              }
              Future<Void> chain = Future.succeededFuture();
              for (LocalDate day = first; !day.isAfter(last); day = day.plusDays(1)) {
                LocalDate d = day;
                for (String table : tables) {
                  boolean week =
                      WEEKLY.contains(table)
                          && !weeksOfDays.contains(partitionName(table, weekOf(d), 7));
                  chain =
                      chain.compose(
                          v ->
                              week
                                  ? create(client, table, weekOf(d), 7)
                                      .recover(
                                          err ->
                                              err instanceof PgException pg
                                                      && OVERLAP.equals(pg.getSqlState())
                                                  // another node made a day of it meanwhile
                                                  ? create(client, table, d, 1)
                                                  : Future.failedFuture(err))
                                  : create(client, table, d, 1));
                }
              }
              return chain;
            });
  }

  /** The Monday that starts the (UTC) week partition holding {@code day}. */
  public static LocalDate weekOf(LocalDate day) {
    return day.with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY));
  }

  /**
   * The name of the partition of {@code table} that starts on {@code first} and spans {@code days}
   * (1, or 7 from a Monday).
   */
  public static String partitionName(String table, LocalDate first, int days) {
    return table + (days == 7 ? "_w" : "_") + SUFFIX.format(first);
  }

  private static Future<Void> create(SqlClient client, String table, LocalDate first, int days) {
    Future<Void> made = exec(client, createPartition(table, first, days));
    return table.equals("event_keys")
        ? made.compose(v -> exec(client, createKeysIndex(partitionName(table, first, days))))
        : made;
  }

  private static Future<Void> exec(SqlClient client, String statement) {
    return client
        .query(statement)
        .execute()
        .<Void>mapEmpty()
        .recover(PartitionMaintainer::ignoreRace);
  }

  /** The DDL of the day partition of {@code table} holding {@code day}. */
  static String createPartition(String table, LocalDate day) {
    return createPartition(table, day, 1);
  }

  // Table names and bounds come from LocalDate only, never from input, so building DDL is safe;
  // PostgreSQL cannot take identifiers or partition bounds as parameters.
  static String createPartition(String table, LocalDate first, int days) {
    return "CREATE TABLE IF NOT EXISTS "
        + partitionName(table, first, days)
        + " PARTITION OF "
        + table
        + " FOR VALUES FROM ('"
        + first
        + " 00:00:00+00') TO ('"
        + first.plusDays(days)
        + " 00:00:00+00') WITH ("
        + String.join(", ", WRITTEN)
        + ")";
  }

  /**
   * Sets {@link #WRITTEN} on each partition still written (its period ends after today, UTC) that
   * lacks one of them, a partition made before these options, and resets them on each partition
   * whose period is over that has one, so that autovacuum vacuums and analyzes that one once.
   * Neither blocks ingest: the option takes the partition's share update exclusive lock, which
   * inserts and reads do not wait for. A vacuum or analyze running on the partition holds that
   * lock: an ordinary one gives way, one against wraparound does not, and the statement then fails
   * at the pool's statement timeout. A partition that fails (or was dropped meanwhile) is logged
   * and left for the next round; the others go on. Returns the partitions changed.
   */
  public Future<List<String>> settleVacuum(SqlClient client) {
    return settleVacuum(client, LocalDate.now(ZoneOffset.UTC));
  }

  /** {@link #settleVacuum(SqlClient)} as of {@code today} (tests). */
  public Future<List<String>> settleVacuum(SqlClient client, LocalDate today) {
    return client
        .preparedQuery(
            "SELECT p.relname, c.relname, coalesce(c.reloptions @> $2::text[], false),"
                + " coalesce(c.reloptions && $2::text[], false)"
                + " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                + " JOIN pg_class p ON p.oid = i.inhparent"
                + " WHERE i.inhparent IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)")
        .execute(
            io.vertx.sqlclient.Tuple.tuple()
                .addArrayOfString(tables.toArray(String[]::new))
                .addArrayOfString(WRITTEN.toArray(String[]::new)))
        .compose(
            rows -> {
              Future<List<String>> chain = Future.succeededFuture(new ArrayList<>());
              for (var r : rows) {
                String child = r.getString(1);
                LocalDate[] range = rangeOf(tables, r.getString(0), child);
                if (range == null) {
                  continue;
                }
                boolean written = range[1].isAfter(today);
                if (written ? r.getBoolean(2) : !r.getBoolean(3)) {
                  continue;
                }
                // the name matched table_yyyyMMdd or table_wyyyyMMdd exactly (rangeOf)
                String statement =
                    "ALTER TABLE IF EXISTS "
                        + child
                        + (written
                            ? " SET (" + String.join(", ", WRITTEN) + ")"
                            : " RESET (" + optionNames() + ")");
                chain =
                    chain.compose(
                        done ->
                            client
                                .query(statement)
                                .execute()
                                .map(
                                    x -> {
                                      done.add(child);
                                      return done;
                                    })
                                .otherwise(
                                    err -> {
                                      LOG.warn(
                                          "could not {} the insert vacuum and analyze of {} ({}); next round",
                                          written ? "turn off" : "turn on",
                                          child,
                                          err.toString());
                                      return done;
                                    }));
              }
              return chain;
            });
  }

  private static String optionNames() {
    return String.join(", ", WRITTEN.stream().map(o -> o.substring(0, o.indexOf('='))).toList());
  }

  /**
   * The unique index of an event_keys partition (V12): a repeated event id within the partition's
   * day or week fails the INSERT that stores its key. Looked up first: CREATE INDEX IF NOT EXISTS
   * would take the partition's share lock, waiting for ingest and holding it up, even when the
   * index exists.
   */
  static String createKeysIndex(String partition) {
    return "DO $$ BEGIN IF to_regclass('"
        + partition
        + "_key') IS NULL THEN CREATE UNIQUE INDEX IF NOT EXISTS "
        + partition
        + "_key ON "
        + partition
        + " (merchant_id, event_id); END IF; END $$";
  }

  /**
   * Removes whole days (and weeks) older than {@code retentionDays} (a partition goes once all of
   * it is older): each partition is first detached CONCURRENTLY, which does not block ingest into
   * the current day, then dropped. No row-by-row DELETE ever runs over the hot tables. Returns the
   * partitions dropped.
   */
  public Future<List<String>> dropExpired(int retentionDays) {
    return dropExpired(pool, retentionDays);
  }

  /** {@link #dropExpired(int)} through {@code client} (a connection holding a chore's lock). */
  public Future<List<String>> dropExpired(SqlClient client, int retentionDays) {
    LocalDate firstKept = LocalDate.now(ZoneOffset.UTC).minusDays(retentionDays);
    return partitions(client)
        .compose(
            rows ->
                leftovers(client)
                    .map(
                        left -> {
                          List<String[]> all = new ArrayList<>(rows);
                          java.util.Set<String> listed = new java.util.HashSet<>();
                          rows.forEach(r -> listed.add(r[1]));
                          // one detached meanwhile (by a round running beside this one) once
                          left.stream().filter(r -> !listed.contains(r[1])).forEach(all::add);
                          return all;
                        }))
        .compose(
            rows -> {
              List<String[]> expired = new ArrayList<>();
              for (String[] r : rows) {
                LocalDate[] range = rangeOf(tables, r[0], r[1]);
                if (range != null && !range[1].isAfter(firstKept)) {
                  expired.add(r);
                }
              }
              Future<List<String>> chain = Future.succeededFuture(new ArrayList<>());
              for (String[] e : expired) {
                chain =
                    chain.compose(
                        done ->
                            drop(client, e)
                                .map(
                                    v -> {
                                      done.add(e[1]);
                                      return done;
                                    })
                                .recover(
                                    err ->
                                        err instanceof LeftoverNotDropped
                                            ? Future.succeededFuture(done)
                                            : Future.failedFuture(err)));
              }
              return chain;
            });
  }

  /** The partitions of this maintainer's tables: {parent, partition} names from the catalog. */
  private Future<List<String[]>> partitions(SqlClient client) {
    return partitions(client, tables);
  }

  private static Future<List<String[]>> partitions(SqlClient client, List<String> tables) {
    return client
        .preparedQuery(
            // the tables as the search path finds them, as the DDL here names them, not any
            // schema's table of the same name
            "SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                + " JOIN pg_class p ON p.oid = i.inhparent"
                + " WHERE i.inhparent IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)")
        .execute(io.vertx.sqlclient.Tuple.of(tables.toArray(String[]::new)))
        .map(
            rows -> {
              List<String[]> names = new ArrayList<>();
              for (var r : rows) {
                names.add(new String[] {r.getString(0), r.getString(1)});
              }
              return names;
            });
  }

  /**
   * Tables named like a partition of one of these tables, in its schema, that are no partition: one
   * detached by an earlier round whose DROP failed or never ran (the node stopped between the two).
   * Their {parent, name}, dropped like partitions once past retention, else they stayed.
   */
  private Future<List<String[]>> leftovers(SqlClient client) {
    return client
        .preparedQuery(
            "SELECT p.relname, c.relname, c.oid::regclass::text FROM pg_class p JOIN pg_class c"
                + " ON c.relnamespace = p.relnamespace AND c.relkind = 'r'"
                + " AND c.relname ~ ('^' || p.relname || '_w?[0-9]{8}$')"
                + " WHERE p.oid IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)"
                + " AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)")
        .execute(io.vertx.sqlclient.Tuple.of(tables.toArray(String[]::new)))
        .map(
            rows -> {
              List<String[]> names = new ArrayList<>();
              for (var r : rows) {
                names.add(new String[] {r.getString(0), r.getString(1), r.getString(2)});
              }
              return names;
            });
  }

  // Names come from the catalog and match table_yyyyMMdd or table_wyyyyMMdd exactly (checked by
  // rangeOf), never from input.
  private static Future<Void> drop(SqlClient client, String[] partition) {
    if (partition.length > 2) {
      // no partition any more: only its DROP is left, by its name as the catalog qualifies it; one
      // that fails is logged and tried again next round, and does not hold up the others
      return client
          .query("DROP TABLE IF EXISTS " + partition[2])
          .execute()
          .<Void>mapEmpty()
          .recover(
              err -> {
                LOG.warn("could not drop the detached table {}: {}", partition[2], err.toString());
                return Future.failedFuture(new LeftoverNotDropped());
              });
    }
    return drop(client, partition[0], partition[1]);
  }

  /** A detached table that could not be dropped this round (logged). */
  private static final class LeftoverNotDropped extends RuntimeException {
    LeftoverNotDropped() {
      super(null, null, false, false);
    }
  }

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

  /**
   * The days a partition named {@code parent_yyyyMMdd} (a day) or, for a {@link #WEEKLY} table,
   * {@code parent_wyyyyMMdd} (the week from that Monday) holds: its first day and the first day
   * after it; null for any other name.
   */
  static LocalDate[] rangeOf(List<String> tables, String parent, String child) {
    if (!tables.contains(parent)) {
      return null;
    }
    String quoted = java.util.regex.Pattern.quote(parent);
    boolean week = WEEKLY.contains(parent) && child.matches(quoted + "_w[0-9]{8}");
    if (!week && !child.matches(quoted + "_[0-9]{8}")) {
      return null;
    }
    try {
      LocalDate first = LocalDate.parse(child.substring(child.length() - 8), SUFFIX);
      if (week && first.getDayOfWeek() != DayOfWeek.MONDAY) {
        return null;
      }
      return new LocalDate[] {first, first.plusDays(week ? 7 : 1)};
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  /**
   * For each table, how many whole days after today (UTC) its partitions cover without a gap: 0
   * when only today's exists, -1 when not even today's (ingest or auditing fails now). Read from
   * the catalog, so it counts what any node made.
   */
  public Future<Map<String, Integer>> daysAhead(SqlClient client) {
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    return partitions(client)
        .map(
            rows -> {
              Map<String, List<LocalDate[]>> ranges = new LinkedHashMap<>();
              tables.forEach(t -> ranges.put(t, new ArrayList<>()));
              for (String[] r : rows) {
                LocalDate[] range = rangeOf(tables, r[0], r[1]);
                if (range != null) {
                  ranges.get(r[0]).add(range);
                }
              }
              Map<String, Integer> ahead = new LinkedHashMap<>();
              ranges.forEach((table, held) -> ahead.put(table, daysAhead(held, today)));
              return ahead;
            });
  }

  /**
   * The Mondays of the weeks whose event_keys are one partition ({@code event_keys_wyyyyMMdd}) with
   * its unique index in place and valid, from the catalog: for {@link EventLog#keyWeeks}. A week
   * whose index is missing (its creation failed after the table's) is not listed: ingest then looks
   * its other days up, as for a week made of days.
   */
  public static Future<java.util.Set<LocalDate>> keyWeeks(SqlClient client) {
    return client
        .query(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                + " WHERE i.inhparent = to_regclass('event_keys') AND c.relname LIKE 'event\\_keys\\_w%'"
                + " AND EXISTS (SELECT 1 FROM pg_index x JOIN pg_class ix ON ix.oid = x.indexrelid"
                + "   WHERE x.indrelid = c.oid AND ix.relname = c.relname || '_key'"
                + "   AND x.indisunique AND x.indisvalid)")
        .execute()
        .map(
            rows -> {
              java.util.Set<LocalDate> mondays = new java.util.HashSet<>();
              for (var r : rows) {
                LocalDate[] range = rangeOf(List.of("event_keys"), "event_keys", r.getString(0));
                if (range != null) {
                  mondays.add(range[0]);
                }
              }
              return mondays;
            });
  }

  static int daysAhead(List<LocalDate[]> held, LocalDate today) {
    int ahead = -1;
    for (LocalDate day = today; ahead < MAX_DAYS_AHEAD; day = day.plusDays(1), ahead++) {
      LocalDate d = day;
      if (held.stream().noneMatch(r -> !d.isBefore(r[0]) && d.isBefore(r[1]))) {
        break;
      }
    }
    return ahead;
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
