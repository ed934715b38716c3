package io.orderpush.persistence.audit;

import io.vertx.core.Future;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The audit trail's table ({@code V16__audit_batches.sql}): writes groups of records in one
 * statement, packing the batches one channel sent over one connection into one row, and reads them
 * back one item per batch, oldest row first, paged by an opaque cursor.
 */
public final class AuditStore {

  /** The partitioned table, for {@code PartitionMaintainer}. */
  public static final List<String> TABLES = List.of("audit_batches");

  /**
   * The batches of one row left within this long of its {@code delivered_at} (the earliest of
   * them); a query from a time reads rows from this much earlier. V16's CHECK holds rows to it (the
   * literal 10000 there), and docs/api.md and operations.md give it as 10 s.
   */
  static final long PACK_SPAN_MS = 10_000;

  private static final long DAY_MS = 86_400_000;

  // One row per pack; each pack's batches are a slice [$7, $8] of the flat arrays $14-$16, and of
  // $18 in the packs that $17 says hold a batch with held seqs (the others store NULL).
  private static final String INSERT =
      "INSERT INTO audit_batches"
          + " (delivered_at, app_id, merchant_id, transport, via, masked, sent_ms, from_seqs,"
          + " to_seqs, status, error, webhook_id, latency_ms, response_head, held_seqs)"
          + " SELECT at, app, m, tr, via, mk, ($14::int4[])[s:e], ($15::int8[])[s:e],"
          + " ($16::int8[])[s:e], st, err, wh, lat, rh, CASE WHEN hh THEN ($18::text[])[s:e] END"
          + " FROM unnest($1::timestamptz[], $2::uuid[], $3::text[], $4::text[], $5::text[],"
          + " $6::boolean[], $7::int4[], $8::int4[], $9::int4[], $10::text[], $11::text[],"
          + " $12::int4[], $13::text[], $17::boolean[])"
          + " AS t(at, app, m, tr, via, mk, s, e, st, err, wh, lat, rh, hh)";

  // One item per batch: a row's batches in the order they left (ordinality).
  private static final String SELECT =
      "SELECT p.id, u.ord, p.delivered_at, u.ms, p.app_id, p.merchant_id, u.f, u.t, p.transport,"
          + " p.via, p.masked, p.status, p.error, p.webhook_id, p.latency_ms, p.response_head, u.h"
          + " FROM audit_batches p,"
          + " unnest(p.sent_ms, p.from_seqs, p.to_seqs, p.held_seqs)"
          + " WITH ORDINALITY AS u(ms, f, t, h, ord)"
          + " WHERE true";

  private static final String ITEM_AT = "p.delivered_at + u.ms * interval '1 millisecond'";

  /**
   * The earliest and latest times a query or a cursor may name: years 1 to 9999, which every
   * PostgreSQL timestamp holds (beyond them a bound parameter fails in the server).
   */
  public static final Instant EARLIEST = Instant.parse("0001-01-01T00:00:00Z");

  public static final Instant LATEST = Instant.parse("9999-12-31T23:59:59.999999Z");

  /** Where a page ended: the last item's row (its delivery time in microseconds, id) and place. */
  public record Cursor(long deliveredAtMicros, long id, long ord) {}

  /** A page of records in delivery order, and the cursor of the next page if there may be one. */
  public record Page(List<AuditRecord> items, Optional<String> next) {}

  /** The batches of one row: one channel's over one connection, or one callback attempt. */
  private static final class Pack {
    final AuditRecord first;
    final List<AuditRecord> batches = new ArrayList<>(4);
    long minAt;
    long maxAt;

    Pack(AuditRecord r) {
      first = r;
      minAt = r.deliveredAtMillis();
      maxAt = minAt;
      batches.add(r);
    }

    /**
     * Within the span, and on the same UTC day: the row lies in the partition of its earliest
     * batch, and retention drops whole days.
     */
    boolean takes(AuditRecord r) {
      long at = r.deliveredAtMillis();
      return Math.max(maxAt, at) - Math.min(minAt, at) <= PACK_SPAN_MS
          && Math.floorDiv(at, DAY_MS) == Math.floorDiv(minAt, DAY_MS);
    }

    void add(AuditRecord r) {
      batches.add(r);
      minAt = Math.min(minAt, r.deliveredAtMillis());
      maxAt = Math.max(maxAt, r.deliveredAtMillis());
    }
  }

  private record PackKey(
      UUID appId, String merchantId, Transport transport, String via, boolean masked) {}

  /**
   * Writes {@code records} in one statement: the batches of one channel over one connection
   * (records of one app, merchant, transport, via and masking) share a row, in the order given; a
   * callback attempt has a row of its own.
   */
  public Future<Void> insert(SqlClient client, List<AuditRecord> records) {
    List<Pack> packs = new ArrayList<>();
    Map<PackKey, Pack> open = new HashMap<>();
    for (AuditRecord r : records) {
      if (r.outcome() != null) {
        packs.add(new Pack(r));
        continue;
      }
      PackKey key = new PackKey(r.appId(), r.merchantId(), r.transport(), r.via(), r.masked());
      Pack p = open.get(key);
      if (p != null && p.takes(r)) {
        p.add(r);
      } else {
        p = new Pack(r);
        packs.add(p);
        open.put(key, p);
      }
    }
    int n = packs.size();
    OffsetDateTime[] at = new OffsetDateTime[n];
    UUID[] apps = new UUID[n];
    String[] merchants = new String[n];
    String[] transports = new String[n];
    String[] vias = new String[n];
    Boolean[] masked = new Boolean[n];
    Integer[] starts = new Integer[n];
    Integer[] ends = new Integer[n];
    Integer[] statuses = new Integer[n];
    String[] errors = new String[n];
    String[] webhookIds = new String[n];
    Integer[] latencies = new Integer[n];
    String[] heads = new String[n];
    Boolean[] anyHeld = new Boolean[n];
    int batches = records.size();
    Integer[] sentMs = new Integer[batches];
    Long[] froms = new Long[batches];
    Long[] tos = new Long[batches];
    String[] held = new String[batches];
    int k = 0;
    for (int i = 0; i < n; i++) {
      Pack p = packs.get(i);
      AuditRecord r = p.first;
      at[i] = Instant.ofEpochMilli(p.minAt).atOffset(ZoneOffset.UTC);
      apps[i] = r.appId();
      merchants[i] = r.merchantId();
      transports[i] = r.transport().wireName();
      vias[i] = r.via();
      masked[i] = r.masked();
      starts[i] = k + 1; // SQL arrays count from 1
      anyHeld[i] = false;
      for (AuditRecord b : p.batches) {
        sentMs[k] = (int) (b.deliveredAtMillis() - p.minAt);
        froms[k] = b.fromSeq();
        tos[k] = b.toSeq();
        held[k] = b.heldSeqs();
        anyHeld[i] |= b.heldSeqs() != null;
        k++;
      }
      ends[i] = k;
      AuditRecord.Outcome o = r.outcome();
      if (o != null) {
        statuses[i] = o.status() == 0 ? null : o.status();
        errors[i] = o.error();
        webhookIds[i] = o.webhookId();
        latencies[i] = o.latencyMs();
        heads[i] = o.responseHead();
      }
    }
    return client
        .preparedQuery(INSERT)
        .execute(
            Tuple.tuple()
                .addArrayOfOffsetDateTime(at)
                .addArrayOfUUID(apps)
                .addArrayOfString(merchants)
                .addArrayOfString(transports)
                .addArrayOfString(vias)
                .addArrayOfBoolean(masked)
                .addArrayOfInteger(starts)
                .addArrayOfInteger(ends)
                .addArrayOfInteger(statuses)
                .addArrayOfString(errors)
                .addArrayOfString(webhookIds)
                .addArrayOfInteger(latencies)
                .addArrayOfString(heads)
                .addArrayOfInteger(sentMs)
                .addArrayOfLong(froms)
                .addArrayOfLong(tos)
                .addArrayOfBoolean(anyHeld)
                .addArrayOfString(held))
        .mapEmpty();
  }

  /**
   * One page of the records {@code filter} asks for, one item per batch: rows oldest first (by
   * their earliest batch), each row's batches in the order they left. Items of different rows can
   * thus be out of time order by what one write held (a flush interval; {@link #PACK_SPAN_MS} at
   * most, when the writer catches up on a backlog); {@code from} and {@code to} hold for each
   * item's own time.
   */
  public Future<Page> find(SqlClient client, AuditFilter filter) {
    StringBuilder sql = new StringBuilder(SELECT);
    Tuple args = Tuple.tuple();
    if (filter.merchantId() != null) {
      args.addString(filter.merchantId());
      sql.append(" AND p.merchant_id = $").append(args.size());
    }
    if (filter.appId() != null) {
      args.addUUID(filter.appId());
      sql.append(" AND p.app_id = $").append(args.size());
    }
    if (filter.from() != null) {
      args.addOffsetDateTime(filter.from().atOffset(ZoneOffset.UTC));
      args.addOffsetDateTime(filter.from().minusMillis(PACK_SPAN_MS).atOffset(ZoneOffset.UTC));
      sql.append(" AND p.delivered_at >= $")
          .append(args.size())
          .append(" AND ")
          .append(ITEM_AT)
          .append(" >= $")
          .append(args.size() - 1);
    }
    if (filter.to() != null) {
      args.addOffsetDateTime(filter.to().atOffset(ZoneOffset.UTC));
      sql.append(" AND p.delivered_at < $")
          .append(args.size())
          .append(" AND ")
          .append(ITEM_AT)
          .append(" < $")
          .append(args.size());
    }
    if (filter.transport() != null) {
      args.addString(filter.transport().wireName());
      sql.append(" AND p.transport = $").append(args.size());
    }
    if (filter.statusClass() != null) {
      if (filter.statusClass().equals("none")) {
        sql.append(" AND p.transport = 'callback' AND p.status IS NULL");
      } else {
        args.addInteger(Integer.parseInt(filter.statusClass().substring(0, 1)) * 100);
        sql.append(" AND p.status >= $")
            .append(args.size())
            .append(" AND p.status < $")
            .append(args.size())
            .append(" + 100");
      }
    }
    if (filter.order() != null) {
      args.addArrayOfString(filter.order().merchants());
      Long[] seqs = new Long[filter.order().seqs().length];
      for (int i = 0; i < seqs.length; i++) {
        seqs[i] = filter.order().seqs()[i];
      }
      args.addArrayOfLong(seqs);
      // one of the order's events of the row's merchant: among the seqs the batch held when it
      // passed some over (parsed once a row), else within its range
      int at = args.size() - 1;
      String events = "unnest($" + at + "::text[], $" + (at + 1) + "::bigint[]) o(m, s)";
      sql.append(" AND p.merchant_id = ANY($")
          .append(at)
          .append("::text[]) AND CASE WHEN u.h IS NULL THEN EXISTS (SELECT 1 FROM ")
          .append(events)
          .append(" WHERE o.m = p.merchant_id AND o.s BETWEEN u.f AND u.t)")
          .append(" ELSE string_to_array(u.h, ',')::bigint[] && ARRAY(SELECT o.s FROM ")
          .append(events)
          .append(" WHERE o.m = p.merchant_id) END");
    }
    if (filter.after() != null) {
      args.addOffsetDateTime(micros(filter.after().deliveredAtMicros()));
      args.addLong(filter.after().id());
      args.addLong(filter.after().ord());
      int at = args.size() - 2;
      // the first condition lets the index start at the cursor's row
      sql.append(" AND (p.delivered_at, p.id) >= ($")
          .append(at)
          .append(", $")
          .append(at + 1)
          .append(") AND (p.delivered_at, p.id, u.ord) > ($")
          .append(at)
          .append(", $")
          .append(at + 1)
          .append(", $")
          .append(at + 2)
          .append(')');
    }
    args.addInteger(filter.limit() + 1);
    sql.append(" ORDER BY p.delivered_at, p.id, u.ord LIMIT $").append(args.size());
    return client
        .preparedQuery(sql.toString())
        .execute(args)
        .map(
            rows -> {
              List<AuditRecord> items = new ArrayList<>();
              Cursor last = null;
              for (Row row : rows) {
                if (items.size() == filter.limit()) {
                  return new Page(items, Optional.of(encode(last)));
                }
                Instant rowAt = row.getOffsetDateTime(2).toInstant();
                Transport transport = Transport.ofWireName(row.getString(8));
                Integer status = row.getInteger(11);
                Integer latency = row.getInteger(14);
                items.add(
                    new AuditRecord(
                        row.getUUID(4),
                        row.getString(5),
                        row.getLong(6),
                        row.getLong(7),
                        transport,
                        row.getString(9),
                        rowAt.toEpochMilli() + row.getInteger(3),
                        row.getBoolean(10),
                        transport != Transport.CALLBACK
                            ? null
                            : new AuditRecord.Outcome(
                                status == null ? 0 : status,
                                row.getString(12),
                                row.getString(13),
                                latency == null ? 0 : latency,
                                row.getString(15)),
                        row.getString(16)));
                last =
                    new Cursor(
                        rowAt.getEpochSecond() * 1_000_000 + rowAt.getNano() / 1000,
                        row.getLong(0),
                        row.getLong(1));
              }
              return new Page(items, Optional.empty());
            });
  }

  /**
   * Reads a cursor this store handed out as {@code next}.
   *
   * @throws IllegalArgumentException if it is not one
   */
  public static Cursor cursor(String encoded) {
    try {
      String[] parts =
          new String(Base64.getUrlDecoder().decode(encoded), StandardCharsets.US_ASCII)
              .split("\\.");
      if (parts.length != 2 && parts.length != 3) {
        throw new IllegalArgumentException("not three parts");
      }
      // Before V16 a cursor named a row of one batch: the next page starts after all of that row.
      long ord = parts.length == 3 ? Long.parseLong(parts[2]) : Long.MAX_VALUE;
      Cursor c = new Cursor(Long.parseLong(parts[0]), Long.parseLong(parts[1]), ord);
      Instant at = micros(c.deliveredAtMicros()).toInstant();
      if (at.isBefore(EARLIEST) || at.isAfter(LATEST) || c.id() < 0 || c.ord() < 0) {
        throw new IllegalArgumentException("out of range");
      }
      return c;
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a cursor this API handed out", e);
    }
  }

  static String encode(Cursor c) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(
            (c.deliveredAtMicros() + "." + c.id() + "." + c.ord())
                .getBytes(StandardCharsets.US_ASCII));
  }

  private static OffsetDateTime micros(long micros) {
    return Instant.ofEpochSecond(
            Math.floorDiv(micros, 1_000_000), Math.floorMod(micros, 1_000_000) * 1000L)
        .atOffset(ZoneOffset.UTC);
  }
}
