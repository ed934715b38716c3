package io.orderpush.persistence.events;

import io.orderpush.persistence.masking.MaskRules;
import io.orderpush.persistence.masking.Masker;
import io.vertx.core.Future;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The PostgreSQL event log: appends groups of events with dense per-merchant seqs, and reads a
 * merchant's events back in seq order. See {@code V1__event_log.sql} for the storage shape.
 */
public final class EventLog {

  /** A chunk row holds at most this many events, so one read is bounded in memory. */
  static final int CHUNK_MAX_EVENTS = 512;

  /** ... and at most about this many characters. */
  static final int CHUNK_MAX_CHARS = 256 * 1024;

  private static final String INSERT_MERCHANTS =
      "INSERT INTO merchants (merchant_id) SELECT m FROM unnest($1::text[]) AS t(m) ORDER BY m COLLATE \"C\""
          + " ON CONFLICT (merchant_id) DO NOTHING";

  // Rows are locked after the sort, so every transaction takes its merchants in the same
  // order and two groups that share merchants cannot deadlock.
  private static final String LOCK_HEADS =
      "SELECT merchant_id, head_seq FROM merchants WHERE merchant_id = ANY($1::text[])"
          + " ORDER BY merchant_id COLLATE \"C\" FOR UPDATE";

  private static final String FIND_KEYS =
      "SELECT k.merchant_id, k.event_id, k.seq FROM event_keys k"
          + " JOIN unnest($1::text[], $2::text[]) AS q(merchant_id, event_id)"
          + " ON k.merchant_id = q.merchant_id AND k.event_id = q.event_id";

  private static final String WRITE =
      "WITH keys AS ("
          + "  INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)"
          + "  SELECT m, e, s, $4::timestamptz FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(m, e, s)"
          + "), chunks AS ("
          + "  INSERT INTO event_chunks"
          + "    (merchant_id, first_seq, last_seq, ingested_at, events, masked, masked_by)"
          + "  SELECT m, f, l, $4::timestamptz, ev, mk, $12"
          + "  FROM unnest($5::text[], $6::bigint[], $7::bigint[], $8::text[], $11::text[])"
          + "    AS t(m, f, l, ev, mk)"
          + ")"
          + " UPDATE merchants SET head_seq = u.h FROM unnest($9::text[], $10::bigint[]) AS u(m, h)"
          + " WHERE merchants.merchant_id = u.m";

  private static final String READ =
      "SELECT first_seq, events, masked, masked_by FROM event_chunks WHERE merchant_id = $1 AND last_seq >= $2"
          // chunks never overlap, so this keeps exactly the chunks covering [from, from + max)
          + " AND first_seq < $2 + $4"
          + " ORDER BY last_seq LIMIT $3";

  // One rendering per chunk, the one the reader sends: the other column stays in TOAST, neither
  // fetched nor decompressed. $5: the reader has the pii scope; $6: this log's masking fingerprint.
  private static final String READ_FOR_SCOPE =
      "SELECT first_seq,"
          + " CASE WHEN $5 OR masked IS NULL OR masked_by IS DISTINCT FROM $6 THEN events"
          + " ELSE masked END,"
          + " masked_by IS NOT DISTINCT FROM $6"
          + " FROM event_chunks WHERE merchant_id = $1 AND last_seq >= $2"
          + " AND first_seq < $2 + $4"
          + " ORDER BY last_seq LIMIT $3";

  private static final String HEAD = "SELECT head_seq FROM merchants WHERE merchant_id = $1";

  private static final DateTimeFormatter ISO_MILLIS =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private final Masker masker;

  /** A log whose masked renderings follow the default path list. */
  public EventLog() {
    this(new Masker(MaskRules.defaults()));
  }

  /**
   * A log that stores masked renderings made with {@code masker}'s rules (the edge renders them
   * with the same masker, see {@link NewEvent}), and masks on read the events of chunks stored
   * under other rules or before masking existed.
   */
  public EventLog(Masker masker) {
    this.masker = masker;
  }

  public Masker masker() {
    return masker;
  }

  /**
   * Appends {@code events} inside the caller's transaction. Returns one result per event, in input
   * order. The merchants' rows stay locked until the caller commits, which is what makes seqs
   * follow commit order.
   */
  public Future<List<AppendResult>> append(SqlConnection tx, List<NewEvent> events, Instant now) {
    Instant ingestedAt = now.truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    String[] merchants =
        events.stream().map(NewEvent::merchantId).distinct().sorted().toArray(String[]::new);
    Tuple merchantsParam = Tuple.tuple().addArrayOfString(merchants);
    return tx.preparedQuery(INSERT_MERCHANTS)
        .execute(merchantsParam)
        .compose(ignored -> tx.preparedQuery(LOCK_HEADS).execute(merchantsParam))
        .compose(
            heads -> {
              Map<String, Long> head = new HashMap<>();
              for (Row row : heads) {
                head.put(row.getString(0), row.getLong(1));
              }
              return findKeys(tx, events)
                  .compose(existing -> write(tx, events, head, existing, ingestedAt));
            });
  }

  private Future<Map<Key, Long>> findKeys(SqlConnection tx, List<NewEvent> events) {
    String[] merchants = new String[events.size()];
    String[] ids = new String[events.size()];
    for (int i = 0; i < events.size(); i++) {
      merchants[i] = events.get(i).merchantId();
      ids[i] = events.get(i).eventId();
    }
    return tx.preparedQuery(FIND_KEYS)
        .execute(Tuple.tuple().addArrayOfString(merchants).addArrayOfString(ids))
        .map(
            rows -> {
              Map<Key, Long> found = new HashMap<>();
              for (Row row : rows) {
                found.put(new Key(row.getString(0), row.getString(1)), row.getLong(2));
              }
              return found;
            });
  }

  private Future<List<AppendResult>> write(
      SqlConnection tx,
      List<NewEvent> events,
      Map<String, Long> head,
      Map<Key, Long> seen,
      Instant ingestedAt) {
    String prefixTail = ",\"ingestedAt\":\"" + ISO_MILLIS.format(ingestedAt) + "\",";
    List<AppendResult> results = new ArrayList<>(events.size());
    List<String> keyMerchants = new ArrayList<>();
    List<String> keyIds = new ArrayList<>();
    List<Long> keySeqs = new ArrayList<>();
    Map<String, ChunkBuilder> chunks = new TreeMap<>();
    for (NewEvent e : events) {
      Key key = new Key(e.merchantId(), e.eventId());
      Long existing = seen.get(key);
      if (existing != null) {
        results.add(new AppendResult(e.merchantId(), e.eventId(), existing, true, null));
        continue;
      }
      long seq = head.merge(e.merchantId(), 1L, Long::sum);
      seen.put(key, seq);
      String json = "{\"seq\":" + seq + prefixTail + e.renderedTail();
      String masked =
          e.maskedTail() == null ? null : "{\"seq\":" + seq + prefixTail + e.maskedTail();
      results.add(new AppendResult(e.merchantId(), e.eventId(), seq, false, json, masked));
      keyMerchants.add(e.merchantId());
      keyIds.add(e.eventId());
      keySeqs.add(seq);
      chunks.computeIfAbsent(e.merchantId(), m -> new ChunkBuilder()).add(seq, json, masked);
    }
    if (keySeqs.isEmpty()) {
      return Future.succeededFuture(results);
    }
    List<String> chunkMerchants = new ArrayList<>();
    List<Long> firsts = new ArrayList<>();
    List<Long> lasts = new ArrayList<>();
    List<String> bodies = new ArrayList<>();
    List<String> maskedBodies = new ArrayList<>();
    String[] headMerchants = chunks.keySet().toArray(String[]::new);
    Long[] heads = new Long[headMerchants.length];
    for (int i = 0; i < headMerchants.length; i++) {
      heads[i] = head.get(headMerchants[i]);
      for (ChunkBuilder.Chunk c : chunks.get(headMerchants[i]).chunks()) {
        chunkMerchants.add(headMerchants[i]);
        firsts.add(c.first());
        lasts.add(c.last());
        bodies.add(c.body());
        maskedBodies.add(c.masked());
      }
    }
    Tuple params =
        Tuple.tuple()
            .addArrayOfString(keyMerchants.toArray(String[]::new))
            .addArrayOfString(keyIds.toArray(String[]::new))
            .addArrayOfLong(keySeqs.toArray(Long[]::new))
            .addOffsetDateTime(ingestedAt.atOffset(ZoneOffset.UTC))
            .addArrayOfString(chunkMerchants.toArray(String[]::new))
            .addArrayOfLong(firsts.toArray(Long[]::new))
            .addArrayOfLong(lasts.toArray(Long[]::new))
            .addArrayOfString(bodies.toArray(String[]::new))
            .addArrayOfString(headMerchants)
            .addArrayOfLong(heads)
            .addArrayOfString(maskedBodies.toArray(String[]::new))
            .addString(masker.rules().fingerprint());
    return tx.preparedQuery(WRITE).execute(params).map(ignored -> results);
  }

  /**
   * Reads the next events of one merchant with seq >= {@code fromSeq}, in order: at most {@code
   * maxEvents}, and at most 128 chunks' worth, so a caller pages until it gets an empty list, which
   * means nothing at or after {@code fromSeq} is stored (yet).
   */
  public Future<List<LoggedEvent>> read(
      SqlClient client, String merchantId, long fromSeq, int maxEvents) {
    if (maxEvents <= 0) {
      throw new IllegalArgumentException("maxEvents must be positive, was " + maxEvents);
    }
    int maxChunks = Math.min(maxEvents, 128);
    return client
        .preparedQuery(READ)
        .execute(Tuple.of(merchantId, fromSeq, maxChunks, (long) maxEvents))
        .map(
            rows -> {
              List<LoggedEvent> out = new ArrayList<>(Math.min(maxEvents, 1024));
              String fingerprint = masker.rules().fingerprint();
              for (Row row : rows) {
                long seq = row.getLong(0);
                String body = row.getString(1);
                String masked = row.getString(2);
                // Masked at ingest under these rules, or not to be trusted: mask while reading.
                boolean current = fingerprint.equals(row.getString(3));
                int start = 0;
                int maskedStart = 0;
                while (start < body.length() && out.size() < maxEvents) {
                  int end = lineEnd(body, start);
                  int maskedEnd = current && masked != null ? lineEnd(masked, maskedStart) : -1;
                  if (seq >= fromSeq) {
                    String line = body.substring(start, end);
                    String maskedLine;
                    if (!current) {
                      maskedLine = masker.maskLine(line);
                    } else if (masked != null) {
                      maskedLine = masked.substring(maskedStart, maskedEnd);
                    } else {
                      maskedLine = null;
                    }
                    out.add(new LoggedEvent(seq, line, maskedLine));
                  }
                  seq++;
                  start = end + 1;
                  maskedStart = maskedEnd + 1;
                }
              }
              return out;
            });
  }

  /**
   * {@link #read}, for a reader that sends what it reads: each event's {@code json} is already the
   * rendering an app with ({@code pii}) or without the {@code pii} scope receives, and only that
   * rendering is fetched. The delivery drain reads this way.
   */
  public Future<List<LoggedEvent>> read(
      SqlClient client, String merchantId, long fromSeq, int maxEvents, boolean pii) {
    if (maxEvents <= 0) {
      throw new IllegalArgumentException("maxEvents must be positive, was " + maxEvents);
    }
    int maxChunks = Math.min(maxEvents, 128);
    String fingerprint = masker.rules().fingerprint();
    return client
        .preparedQuery(READ_FOR_SCOPE)
        .execute(
            Tuple.of(merchantId, fromSeq, maxChunks, (long) maxEvents, pii).addString(fingerprint))
        .map(
            rows -> {
              List<LoggedEvent> out = new ArrayList<>(Math.min(maxEvents, 1024));
              for (Row row : rows) {
                long seq = row.getLong(0);
                String body = row.getString(1);
                // without pii, a chunk whose masked rendering is not trusted is masked here
                boolean maskHere = !pii && !row.getBoolean(2);
                int start = 0;
                while (start < body.length() && out.size() < maxEvents) {
                  int end = lineEnd(body, start);
                  if (seq >= fromSeq) {
                    String line = body.substring(start, end);
                    String masked = maskHere ? masker.maskLine(line) : null;
                    out.add(new LoggedEvent(seq, masked != null ? masked : line));
                  }
                  seq++;
                  start = end + 1;
                }
              }
              return out;
            });
  }

  private static int lineEnd(String ndjson, int start) {
    int end = ndjson.indexOf('\n', start);
    return end < 0 ? ndjson.length() : end;
  }

  /**
   * Events {@code fromSeq..toSeq} of one merchant, however many chunks they span: pages through
   * {@link #read} until {@code toSeq} or the end of what is stored. The answer is shorter than
   * asked, or starts after {@code fromSeq}, only when some of those events are not stored: past the
   * head, or removed by retention.
   */
  public Future<List<LoggedEvent>> readRange(
      SqlClient client, String merchantId, long fromSeq, long toSeq) {
    if (toSeq < fromSeq || toSeq - fromSeq >= Integer.MAX_VALUE) {
      throw new IllegalArgumentException("bad range " + fromSeq + "-" + toSeq);
    }
    return readRange(client, merchantId, fromSeq, toSeq, new ArrayList<>());
  }

  private Future<List<LoggedEvent>> readRange(
      SqlClient client, String merchantId, long next, long toSeq, List<LoggedEvent> into) {
    return read(client, merchantId, next, (int) (toSeq - next + 1))
        .compose(
            page -> {
              into.addAll(page);
              if (page.isEmpty() || page.get(page.size() - 1).seq() >= toSeq) {
                return Future.succeededFuture(into);
              }
              return readRange(
                  client, merchantId, page.get(page.size() - 1).seq() + 1, toSeq, into);
            });
  }

  /**
   * The lowest seq of the merchant still stored (older ones are past retention), or head + 1 if
   * none is: replay and rewinds must not start before it.
   */
  public Future<Long> oldestRetained(SqlClient client, String merchantId) {
    return client
        .preparedQuery(
            "SELECT (SELECT first_seq FROM event_chunks WHERE merchant_id = $1 ORDER BY last_seq LIMIT 1),"
                + " (SELECT head_seq FROM merchants WHERE merchant_id = $1)")
        .execute(Tuple.of(merchantId))
        .map(
            rows -> {
              Row r = rows.iterator().next();
              Long first = r.getLong(0);
              Long head = r.getLong(1);
              return first != null ? first : (head == null ? 0L : head) + 1;
            });
  }

  /** Heads of several merchants; merchants without events are absent from the map. */
  public Future<Map<String, Long>> heads(SqlClient client, List<String> merchantIds) {
    return client
        .preparedQuery("SELECT merchant_id, head_seq FROM merchants WHERE merchant_id = ANY($1)")
        .execute(Tuple.tuple().addArrayOfString(merchantIds.toArray(String[]::new)))
        .map(
            rows -> {
              Map<String, Long> heads = new HashMap<>();
              rows.forEach(r -> heads.put(r.getString(0), r.getLong(1)));
              return heads;
            });
  }

  /**
   * The highest seq stored of every merchant that got events ingested at or after {@code since},
   * from the newest end of an index: the cost follows what was ingested since, not the number of
   * merchants or channels.
   */
  public Future<Map<String, Long>> headsIngestedSince(SqlClient client, Instant since) {
    return client
        .preparedQuery(
            "SELECT merchant_id, max(last_seq) FROM event_chunks WHERE ingested_at >= $1"
                + " GROUP BY merchant_id")
        .execute(Tuple.of(since.atOffset(ZoneOffset.UTC)))
        .map(
            rows -> {
              Map<String, Long> heads = new HashMap<>();
              rows.forEach(r -> heads.put(r.getString(0), r.getLong(1)));
              return heads;
            });
  }

  /** The merchant's highest assigned seq, 0 if it has no events. */
  public Future<Long> head(SqlClient pool, String merchantId) {
    return pool.preparedQuery(HEAD)
        .execute(Tuple.of(merchantId))
        .map(rows -> rows.size() == 0 ? 0L : rows.iterator().next().getLong(0));
  }

  /** Chunks an order lookup reads at most: an order has a handful of events. */
  static final int ORDER_MAX_CHUNKS = 1000;

  /**
   * The seqs of one order's events among the merchant's stored events ingested up to {@code until}
   * (null: all retained), in order. There is no index by order: PostgreSQL scans the merchant's
   * chunks in that range and returns only those whose text holds the order's id; of their lines,
   * those whose own {@code orderId} is it count. For operators' audit queries, never delivery.
   */
  public Future<long[]> seqsOfOrder(
      SqlClient client, String merchantId, String orderId, Instant until) {
    String needle = "\"orderId\":" + io.vertx.core.json.Json.encode(orderId);
    Tuple args = Tuple.of(merchantId, needle, ORDER_MAX_CHUNKS);
    String sql =
        "SELECT first_seq, events FROM event_chunks WHERE merchant_id = $1"
            + " AND strpos(events, $2) > 0";
    if (until != null) {
      args.addOffsetDateTime(until.atOffset(ZoneOffset.UTC));
      sql += " AND ingested_at <= $4";
    }
    return client
        .preparedQuery(sql + " ORDER BY last_seq LIMIT $3")
        .execute(args)
        .map(
            rows -> {
              List<Long> seqs = new ArrayList<>();
              for (Row row : rows) {
                long seq = row.getLong(0);
                for (String line : row.getString(1).split("\n", -1)) {
                  // the id may also appear as a key inside data: only the event's own counts
                  if (line.contains(needle)
                      && orderId.equals(
                          new io.vertx.core.json.JsonObject(line).getValue("orderId"))) {
                    seqs.add(seq);
                  }
                  seq++;
                }
              }
              return seqs.stream().mapToLong(Long::longValue).toArray();
            });
  }

  private record Key(String merchantId, String eventId) {}
}
