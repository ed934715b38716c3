package io.orderpush.persistence.events;

import io.vertx.core.Future;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/**
 * Creates the day partitions of the event tables ahead of time. Ingest writes into the partition
 * of the current UTC day; there is no default partition, so a day without a partition would fail
 * ingest loudly rather than silently filling an unpartitioned heap. Run at startup and hourly.
 */
public final class PartitionMaintainer {

  static final List<String> TABLES = List.of("event_chunks", "event_keys");

  private static final DateTimeFormatter SUFFIX = DateTimeFormatter.ofPattern("yyyyMMdd");

  private final Pool pool;
  private final int daysAhead;

  public PartitionMaintainer(Pool pool, int daysAhead) {
    this.pool = pool;
    this.daysAhead = daysAhead;
  }

  /** Ensures partitions exist from yesterday to {@code daysAhead} days from today (UTC). */
  public Future<Void> ensurePartitions() {
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    List<String> ddl = new ArrayList<>();
    for (LocalDate day = today.minusDays(1); !day.isAfter(today.plusDays(daysAhead)); day = day.plusDays(1)) {
      for (String table : TABLES) {
        ddl.add(createPartition(table, day));
      }
    }
    Future<Void> chain = Future.succeededFuture();
    for (String statement : ddl) {
      chain = chain.compose(v -> pool.query(statement).execute().<Void>mapEmpty().recover(PartitionMaintainer::ignoreRace));
    }
    return chain;
  }

  // Table names and bounds come from LocalDate only, never from input, so building DDL is safe;
  // PostgreSQL cannot take identifiers or partition bounds as parameters.
  static String createPartition(String table, LocalDate day) {
    return "CREATE TABLE IF NOT EXISTS " + table + "_" + SUFFIX.format(day)
        + " PARTITION OF " + table
        + " FOR VALUES FROM ('" + day + " 00:00:00+00') TO ('" + day.plusDays(1) + " 00:00:00+00')";
  }

  /** Two nodes creating the same partition at once: the loser sees a duplicate; that is fine. */
  private static Future<Void> ignoreRace(Throwable err) {
    if (err instanceof PgException pg && ("42P07".equals(pg.getSqlState()) || "23505".equals(pg.getSqlState()))) {
      return Future.succeededFuture();
    }
    return Future.failedFuture(err);
  }
}
