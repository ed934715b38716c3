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
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The audit trail's table ({@code V6__audit_deliveries.sql}): writes groups of records in one
 * statement, and reads them back in delivery-time order, paged by an opaque cursor.
 */
public final class AuditStore {

  /** The partitioned table, for {@code PartitionMaintainer}. */
  public static final List<String> TABLES = List.of("audit_deliveries");

  private static final String INSERT =
      "INSERT INTO audit_deliveries"
          + " (delivered_at, app_id, merchant_id, from_seq, to_seq, transport, via, masked, status,"
          + " error, webhook_id, latency_ms, response_head)"
          + " SELECT * FROM unnest($1::timestamptz[], $2::uuid[], $3::text[], $4::bigint[],"
          + " $5::bigint[], $6::text[], $7::text[], $8::boolean[], $9::int4[], $10::text[],"
          + " $11::text[], $12::int4[], $13::text[])";

  private static final String SELECT =
      "SELECT id, delivered_at, app_id, merchant_id, from_seq, to_seq, transport, via, masked,"
          + " status, error, webhook_id, latency_ms, response_head FROM audit_deliveries WHERE true";

  /** Where a page ended: the last item's delivery time (microseconds) and id. */
  public record Cursor(long deliveredAtMicros, long id) {}

  /** A page of records in delivery order, and the cursor of the next page if there may be one. */
  public record Page(List<AuditRecord> items, Optional<String> next) {}

  /** Writes {@code records} in one statement. */
  public Future<Void> insert(SqlClient client, List<AuditRecord> records) {
    int n = records.size();
    OffsetDateTime[] at = new OffsetDateTime[n];
    UUID[] apps = new UUID[n];
    String[] merchants = new String[n];
    Long[] froms = new Long[n];
    Long[] tos = new Long[n];
    String[] transports = new String[n];
    String[] vias = new String[n];
    Boolean[] masked = new Boolean[n];
    Integer[] statuses = new Integer[n];
    String[] errors = new String[n];
    String[] webhookIds = new String[n];
    Integer[] latencies = new Integer[n];
    String[] heads = new String[n];
    for (int i = 0; i < n; i++) {
      AuditRecord r = records.get(i);
      at[i] = Instant.ofEpochMilli(r.deliveredAtMillis()).atOffset(ZoneOffset.UTC);
      apps[i] = r.appId();
      merchants[i] = r.merchantId();
      froms[i] = r.fromSeq();
      tos[i] = r.toSeq();
      transports[i] = r.transport().wireName();
      vias[i] = r.via();
      masked[i] = r.masked();
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
                .addArrayOfLong(froms)
                .addArrayOfLong(tos)
                .addArrayOfString(transports)
                .addArrayOfString(vias)
                .addArrayOfBoolean(masked)
                .addArrayOfInteger(statuses)
                .addArrayOfString(errors)
                .addArrayOfString(webhookIds)
                .addArrayOfInteger(latencies)
                .addArrayOfString(heads))
        .mapEmpty();
  }

  /** One page of the records {@code filter} asks for, oldest first. */
  public Future<Page> find(SqlClient client, AuditFilter filter) {
    StringBuilder sql = new StringBuilder(SELECT);
    Tuple args = Tuple.tuple();
    if (filter.merchantId() != null) {
      args.addString(filter.merchantId());
      sql.append(" AND merchant_id = $").append(args.size());
    }
    if (filter.appId() != null) {
      args.addUUID(filter.appId());
      sql.append(" AND app_id = $").append(args.size());
    }
    if (filter.from() != null) {
      args.addOffsetDateTime(filter.from().atOffset(ZoneOffset.UTC));
      sql.append(" AND delivered_at >= $").append(args.size());
    }
    if (filter.to() != null) {
      args.addOffsetDateTime(filter.to().atOffset(ZoneOffset.UTC));
      sql.append(" AND delivered_at < $").append(args.size());
    }
    if (filter.transport() != null) {
      args.addString(filter.transport().wireName());
      sql.append(" AND transport = $").append(args.size());
    }
    if (filter.statusClass() != null) {
      if (filter.statusClass().equals("none")) {
        sql.append(" AND transport = 'callback' AND status IS NULL");
      } else {
        args.addInteger(Integer.parseInt(filter.statusClass().substring(0, 1)) * 100);
        sql.append(" AND status >= $")
            .append(args.size())
            .append(" AND status < $")
            .append(args.size())
            .append(" + 100");
      }
    }
    if (filter.seqs() != null) {
      Long[] seqs = new Long[filter.seqs().length];
      for (int i = 0; i < seqs.length; i++) {
        seqs[i] = filter.seqs()[i];
      }
      args.addArrayOfLong(seqs);
      sql.append(" AND EXISTS (SELECT 1 FROM unnest($")
          .append(args.size())
          .append("::bigint[]) s WHERE s BETWEEN from_seq AND to_seq)");
    }
    if (filter.after() != null) {
      args.addOffsetDateTime(micros(filter.after().deliveredAtMicros()));
      args.addLong(filter.after().id());
      sql.append(" AND (delivered_at, id) > ($")
          .append(args.size() - 1)
          .append(", $")
          .append(args.size())
          .append(')');
    }
    args.addInteger(filter.limit() + 1);
    sql.append(" ORDER BY delivered_at, id LIMIT $").append(args.size());
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
                OffsetDateTime at = row.getOffsetDateTime(1);
                Integer status = row.getInteger(9);
                Transport transport = Transport.ofWireName(row.getString(6));
                Integer latency = row.getInteger(12);
                items.add(
                    new AuditRecord(
                        row.getUUID(2),
                        row.getString(3),
                        row.getLong(4),
                        row.getLong(5),
                        transport,
                        row.getString(7),
                        at.toInstant().toEpochMilli(),
                        row.getBoolean(8),
                        transport != Transport.CALLBACK
                            ? null
                            : new AuditRecord.Outcome(
                                status == null ? 0 : status,
                                row.getString(10),
                                row.getString(11),
                                latency == null ? 0 : latency,
                                row.getString(13))));
                Instant i = at.toInstant();
                last =
                    new Cursor(i.getEpochSecond() * 1_000_000 + i.getNano() / 1000, row.getLong(0));
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
      String s = new String(Base64.getUrlDecoder().decode(encoded), StandardCharsets.US_ASCII);
      int dot = s.indexOf('.');
      return new Cursor(Long.parseLong(s.substring(0, dot)), Long.parseLong(s.substring(dot + 1)));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("not a cursor this API handed out", e);
    }
  }

  static String encode(Cursor c) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString((c.deliveredAtMicros() + "." + c.id()).getBytes(StandardCharsets.US_ASCII));
  }

  private static OffsetDateTime micros(long micros) {
    return Instant.ofEpochSecond(
            Math.floorDiv(micros, 1_000_000), Math.floorMod(micros, 1_000_000) * 1000L)
        .atOffset(ZoneOffset.UTC);
  }
}
