package io.orderpush.delivery.lag;

import io.orderpush.delivery.cursor.CursorStore;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * How far behind channels are, from what is stored, so that every node answers the same and an app
 * connected nowhere shows its full lag: heads from PostgreSQL, cursors from Redis, or the
 * PostgreSQL checkpoint where Redis has none.
 *
 * <p>Channels are ranked in one SQL statement by their lag as of the last checkpoint (an upper
 * bound: checkpoints trail Redis by at most the checkpoint interval); only the channels of the page
 * asked for are then read from Redis. No statement or command runs per channel outside the page.
 */
public final class LagQuery {

  /** One channel's lag. {@code oldestPendingAt}: when the oldest undelivered event was stored. */
  public record Item(
      UUID appId,
      String merchantId,
      long headSeq,
      long cursor,
      long lag,
      Optional<Instant> oldestPendingAt,
      String state) {}

  /** Where the next page starts: after this channel, in ranking order. */
  public record After(long rank, UUID appId, String merchantId) {}

  public record Page(List<Item> items, Optional<After> next) {}

  /** What a failing app holds up. */
  public record Impact(
      UUID appId,
      int merchantsBehind,
      long pendingEvents,
      long pendingOrders,
      boolean pendingOrdersExact,
      Optional<Instant> oldestPendingAt,
      String endpointState) {}

  /** A channel as ranked by SQL. */
  private record Ranked(
      UUID appId, String merchantId, long head, long checkpoint, long rank, String state) {}

  private static final String RANKED =
      "WITH ch AS ("
          + " SELECT g.app_id, g.merchant_id, coalesce(m.head_seq, 0) AS head,"
          + "  coalesce(c.cursor, g.start_seq) AS ck,"
          + "  CASE WHEN a.state = 'frozen' THEN 'frozen'"
          + "   WHEN a.delivery_mode = 'callback' THEN a.endpoint_state ELSE 'active' END AS state"
          + " FROM grants g JOIN apps a ON a.app_id = g.app_id"
          + " LEFT JOIN merchants m ON m.merchant_id = g.merchant_id"
          + " LEFT JOIN cursor_checkpoints c"
          + "  ON c.app_id = g.app_id AND c.merchant_id = g.merchant_id"
          + " WHERE ($1::uuid IS NULL OR g.app_id = $1) AND ($2::text IS NULL OR g.merchant_id = $2)"
          // A drill's sandbox merchants are measured by the drill, never by production lag.
          + "  AND g.merchant_id NOT LIKE 'sandbox:%'"
          + "), ranked AS (SELECT *, greatest(head - ck, 0) AS rank FROM ch)"
          + " SELECT app_id, merchant_id, head, ck, rank, state FROM ranked"
          + " WHERE rank >= $3"
          + "  AND ($4::bigint IS NULL OR rank < $4"
          + "   OR (rank = $4 AND (app_id, merchant_id) > ($5::uuid, $6::text)))"
          + " ORDER BY rank DESC, app_id, merchant_id LIMIT $7";

  // The stored time of the chunk holding each channel's cursor + 1: when its oldest pending event
  // was ingested.
  private static final String OLDEST =
      "SELECT t.m, (SELECT e.ingested_at FROM event_chunks e WHERE e.merchant_id = t.m"
          + " AND e.last_seq > t.c ORDER BY e.last_seq LIMIT 1)"
          + " FROM unnest($1::text[], $2::bigint[]) AS t(m, c)";

  // Distinct orders among the pending events of the given channels, over at most $3 events.
  private static final String ORDERS =
      "SELECT count(DISTINCT (p.m, p.o)) FROM ("
          + " SELECT t.m, substring(l.line FROM '\"orderId\":\"((?:[^\"\\\\]|\\\\.)*)\"') AS o"
          + " FROM unnest($1::text[], $2::bigint[]) AS t(m, c)"
          + " JOIN LATERAL (SELECT e.first_seq, e.events FROM event_chunks e"
          + "  WHERE e.merchant_id = t.m AND e.last_seq > t.c) ch ON true"
          + " CROSS JOIN LATERAL regexp_split_to_table(ch.events, E'\\n') WITH ORDINALITY AS l(line, i)"
          + " WHERE ch.first_seq + l.i - 1 > t.c LIMIT $3) p";

  private final Pool pool;
  private final CursorStore cursors;
  private final Context context;
  private final long maxScannedEvents;

  /**
   * @param maxScannedEvents pending events read at most to count an app's pending orders; past it
   *     the count covers the oldest events only and says it is not exact
   */
  public LagQuery(Pool pool, CursorStore cursors, Context context, long maxScannedEvents) {
    this.pool = pool;
    this.cursors = cursors;
    this.context = context;
    this.maxScannedEvents = maxScannedEvents;
  }

  /** Channels with at least {@code minLag}, largest first. */
  public Future<Page> lag(
      Optional<UUID> appId,
      Optional<String> merchantId,
      long minLag,
      int limit,
      Optional<After> after) {
    Tuple params =
        Tuple.of(
            appId.orElse(null),
            merchantId.orElse(null),
            minLag,
            after.map(After::rank).orElse(null),
            after.map(After::appId).orElse(null),
            after.map(After::merchantId).orElse(null),
            limit);
    return pool.preparedQuery(RANKED)
        .execute(params)
        .compose(
            rows -> {
              List<Ranked> ranked = new ArrayList<>();
              for (Row r : rows) {
                ranked.add(
                    new Ranked(
                        r.getUUID(0),
                        r.getString(1),
                        r.getLong(2),
                        r.getLong(3),
                        r.getLong(4),
                        r.getString(5)));
              }
              Optional<After> next =
                  ranked.size() < limit
                      ? Optional.empty()
                      : Optional.of(last(ranked.get(ranked.size() - 1)));
              return refine(ranked)
                  .map(
                      items ->
                          new Page(
                              items.stream().filter(i -> i.lag() >= minLag).sorted(BY_LAG).toList(),
                              next));
            });
  }

  private static final Comparator<Item> BY_LAG =
      Comparator.comparingLong(Item::lag)
          .reversed()
          .thenComparing(Item::appId)
          .thenComparing(Item::merchantId);

  private static After last(Ranked r) {
    return new After(r.rank(), r.appId(), r.merchantId());
  }

  /** Redis cursors (checkpoints where Redis has none) and oldest pending times for the channels. */
  private Future<List<Item>> refine(List<Ranked> ranked) {
    Map<UUID, List<Ranked>> byApp = new LinkedHashMap<>();
    ranked.forEach(r -> byApp.computeIfAbsent(r.appId(), k -> new ArrayList<>()).add(r));
    List<Future<List<Long>>> reads = new ArrayList<>();
    List<Ranked> order = new ArrayList<>();
    byApp.forEach(
        (app, list) -> {
          order.addAll(list);
          reads.add(cursors.cursors(context, app, list.stream().map(Ranked::merchantId).toList()));
        });
    return Future.all(reads)
        .compose(
            done -> {
              List<Long> current = new ArrayList<>();
              reads.forEach(f -> current.addAll(f.result()));
              List<Item> items = new ArrayList<>(order.size());
              for (int i = 0; i < order.size(); i++) {
                Ranked r = order.get(i);
                long cursor = current.get(i) >= 0 ? current.get(i) : r.checkpoint();
                items.add(
                    new Item(
                        r.appId(),
                        r.merchantId(),
                        r.head(),
                        cursor,
                        Math.max(0, r.head() - cursor),
                        Optional.empty(),
                        r.state()));
              }
              return oldest(items);
            });
  }

  private Future<List<Item>> oldest(List<Item> items) {
    List<Item> behind = items.stream().filter(i -> i.lag() > 0).toList();
    if (behind.isEmpty()) {
      return Future.succeededFuture(items);
    }
    return pool.preparedQuery(OLDEST)
        .execute(
            Tuple.tuple()
                .addArrayOfString(behind.stream().map(Item::merchantId).toArray(String[]::new))
                .addArrayOfLong(behind.stream().map(Item::cursor).toArray(Long[]::new)))
        .map(
            rows -> {
              // One row per input pair, in input order.
              List<Optional<Instant>> times = new ArrayList<>();
              for (Row r : rows) {
                times.add(Optional.ofNullable(r.getOffsetDateTime(1)).map(t -> t.toInstant()));
              }
              List<Item> out = new ArrayList<>(items.size());
              int j = 0;
              for (Item i : items) {
                if (i.lag() > 0) {
                  out.add(
                      new Item(
                          i.appId(),
                          i.merchantId(),
                          i.headSeq(),
                          i.cursor(),
                          i.lag(),
                          times.get(j++),
                          i.state()));
                } else {
                  out.add(i);
                }
              }
              return out;
            });
  }

  /** The app's channels that are behind, what they hold up, and since when; empty if no app. */
  public Future<Optional<Impact>> impact(UUID appId) {
    return pool.preparedQuery(
            "SELECT CASE WHEN delivery_mode = 'callback' THEN endpoint_state END, state"
                + " FROM apps WHERE app_id = $1")
        .execute(Tuple.of(appId))
        .compose(
            app -> {
              if (app.size() == 0) {
                return Future.succeededFuture(Optional.empty());
              }
              Row a = app.iterator().next();
              String endpointState = "frozen".equals(a.getString(1)) ? "frozen" : a.getString(0);
              return allBehind(appId, Optional.empty(), new ArrayList<>())
                  .compose(items -> impactOf(appId, endpointState, items))
                  .map(Optional::of);
            });
  }

  private static final int IMPACT_PAGE = 1000;

  private Future<List<Item>> allBehind(UUID appId, Optional<After> after, List<Item> into) {
    return lag(Optional.of(appId), Optional.empty(), 1, IMPACT_PAGE, after)
        .compose(
            page -> {
              into.addAll(page.items());
              return page.next().isPresent()
                  ? allBehind(appId, page.next(), into)
                  : Future.succeededFuture(into);
            });
  }

  private Future<Impact> impactOf(UUID appId, String endpointState, List<Item> behind) {
    long pending = behind.stream().mapToLong(Item::lag).sum();
    Optional<Instant> oldest =
        behind.stream()
            .map(Item::oldestPendingAt)
            .flatMap(Optional::stream)
            .min(Comparator.naturalOrder());
    if (behind.isEmpty()) {
      return Future.succeededFuture(
          new Impact(appId, 0, 0, 0, true, Optional.empty(), endpointState));
    }
    return pool.preparedQuery(ORDERS)
        .execute(
            Tuple.tuple()
                .addArrayOfString(behind.stream().map(Item::merchantId).toArray(String[]::new))
                .addArrayOfLong(behind.stream().map(Item::cursor).toArray(Long[]::new))
                .addLong(maxScannedEvents))
        .map(
            rows ->
                new Impact(
                    appId,
                    behind.size(),
                    pending,
                    rows.iterator().next().getLong(0),
                    pending <= maxScannedEvents,
                    oldest,
                    endpointState));
  }
}
