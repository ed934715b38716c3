package io.orderpush.persistence.events;

import io.orderpush.persistence.masking.MaskPatch;
import io.orderpush.persistence.masking.MaskRules;
import io.orderpush.persistence.masking.Masker;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.SqlClient;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
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

  // Bounded to what retention keeps ($3) and to what can have been written ($4): the partitions
  // created ahead, and those past retention not dropped yet, are pruned instead of probed for
  // every event.
  private static final String FIND_KEYS =
      "SELECT k.merchant_id, k.event_id, k.seq FROM event_keys k"
          + " JOIN unnest($1::text[], $2::text[]) AS q(merchant_id, event_id)"
          + " ON k.merchant_id = q.merchant_id AND k.event_id = q.event_id"
          + " WHERE k.ingested_at >= $3 AND k.ingested_at < $4";

  // The one-round-trip group commit (appendExpecting), first statement: the keys and chunks, with
  // seqs from the heads the caller expects. A key stored before aborts it: the unique index of the
  // partition written (its UTC week, or its day in a week made of days; PartitionMaintainer) fails
  // the INSERT for one stored in the same partition; the query looks in the rest of what retention
  // keeps outside that partition ($11-$12, and $13-$14 for a clock ahead of ours past its end;
  // its snapshot does not see the CTEs' own rows): outside this week once the catalog showed it is
  // one partition (keyWeeks), else outside today. With week partitions and retention.days up to 7
  // that probes one partition per key (last week's; and next week's, empty, in Sunday's last hour
  // for the skew), not one per retained day; a week more for each 7 days more. No merchant row is
  // locked yet, so this runs while an earlier transaction over the same merchants is still
  // committing.
  private static final String WRITE_EXPECTING =
      "WITH keys AS ("
          + "  INSERT INTO event_keys (merchant_id, event_id, seq, ingested_at)"
          + "  SELECT m, e, s, $4::timestamptz FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(m, e, s)"
          + "), chunks AS ("
          + "  INSERT INTO event_chunks"
          + "    (merchant_id, first_seq, last_seq, ingested_at, events, masked, masked_by)"
          + "  SELECT m, f, l, $4::timestamptz, ev, mk, $10"
          + "  FROM unnest($5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[])"
          + "    AS t(m, f, l, ev, mk)"
          + ")"
          + " SELECT ingest_expect(count(*) = 0, 'an event id was stored before') FROM event_keys k"
          + " JOIN unnest($1::text[], $2::text[]) AS q(m, e) ON k.merchant_id = q.m AND k.event_id = q.e"
          + " WHERE (k.ingested_at >= $11 AND k.ingested_at < $12)"
          + " OR (k.ingested_at >= $13 AND k.ingested_at < $14)";

  // Second statement: creates, locks (in sorted order, so concurrent groups cannot deadlock) and
  // advances each head in one pass, and aborts unless every head was where the seqs assumed.
  private static final String ADVANCE_HEADS =
      "WITH heads AS ("
          + "  INSERT INTO merchants AS h (merchant_id, head_seq)"
          + "  SELECT m, n FROM unnest($1::text[], $2::bigint[]) AS u(m, n) ORDER BY m COLLATE \"C\""
          + "  ON CONFLICT (merchant_id) DO UPDATE SET head_seq = h.head_seq + EXCLUDED.head_seq"
          + "  RETURNING h.merchant_id, h.head_seq"
          + ")"
          + " SELECT ingest_expect(count(*) = 0, 'a head moved') FROM heads"
          + " JOIN unnest($1::text[], $3::bigint[]) AS x(m, h) ON heads.merchant_id = x.m"
          + " WHERE heads.head_seq <> x.h";

  /**
   * SQLSTATE of {@code ingest_expect}: PostgreSQL's heads or keys are not what the seqs assumed.
   */
  public static final String EXPECTATION_FAILED = "OPX01";

  /** Written rows may carry a clock up to this far ahead of ours (another node's). */
  private static final Duration CLOCK_SKEW = Duration.ofHours(1);

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

  // What the reader sends: the events, and for a reader without the pii scope ($5) what masks them
  // (patches, or an older chunk's masked rendering whole); a reader with it leaves that column in
  // TOAST, neither fetched nor decompressed.
  private static final String READ_FOR_SCOPE =
      "SELECT first_seq, events, CASE WHEN $5 THEN NULL ELSE masked END, masked_by"
          + " FROM event_chunks WHERE merchant_id = $1 AND last_seq >= $2"
          + " AND first_seq < $2 + $4"
          + " ORDER BY last_seq LIMIT $3";

  /**
   * Leads {@code masked_by} when {@code masked} holds each event's {@link MaskPatch} (or its masked
   * line whole, or nothing) rather than the masked rendering of the whole chunk, as chunks written
   * before it do. A node that does not know it (an older one, in a rolling upgrade) finds the
   * fingerprint not its own and masks those events while reading them.
   */
  static final String PATCHED = "patch:";

  private static final String HEAD = "SELECT head_seq FROM merchants WHERE merchant_id = $1";

  private final Masker masker;
  private final int retentionDays;
  // Mondays of the weeks whose keys are one partition (PartitionMaintainer#keyWeeks)
  private volatile java.util.Set<java.time.LocalDate> keyWeeks = java.util.Set.of();

  /** A log whose masked renderings follow the default path list. */
  public EventLog() {
    this(new Masker(MaskRules.defaults()));
  }

  /**
   * A log that stores masked renderings made with {@code masker}'s rules (the edge renders them
   * with the same masker, see {@link NewEvent}), and masks on read the events of chunks stored
   * under other rules or before masking existed. Repeats are looked for in every stored day.
   */
  public EventLog(Masker masker) {
    this(masker, 0);
  }

  /**
   * @param retentionDays the days {@link PartitionMaintainer#dropExpired} keeps: a repeated event
   *     id is looked for only among the keys it keeps, those of the weeks (Monday to Monday, UTC)
   *     that hold one of those days (0: every stored key). The whole week, because the week's
   *     unique index refuses a repeat of any of its keys: one it could not find would fail every
   *     time.
   */
  public EventLog(Masker masker, int retentionDays) {
    this.masker = masker;
    this.retentionDays = retentionDays;
  }

  /**
   * Tells the one-round-trip commit which weeks' keys are one partition ({@link
   * PartitionMaintainer#keyWeeks}, read from the catalog): a repeat of any key of such a week fails
   * the key INSERT through its unique index, so the lookup of the week's other days is skipped (one
   * partition fewer to probe per key). A week not listed is looked up outside today, as if it were
   * made of days. A week partition, once made, stays until all of it is past retention, so a list
   * read earlier is never wrong, only short.
   */
  public void keyWeeks(java.util.Set<java.time.LocalDate> mondays) {
    keyWeeks = java.util.Set.copyOf(mondays);
  }

  /** The weeks {@link #keyWeeks(java.util.Set)} last gave. */
  public java.util.Set<java.time.LocalDate> keyWeeks() {
    return keyWeeks;
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
    return appendLocked(tx, events, now).map(Appended::results);
  }

  /**
   * {@link #append}, also answering each merchant's head once the caller commits: the heads {@link
   * #appendExpecting} may then assume.
   */
  public Future<Appended> appendLocked(SqlConnection tx, List<NewEvent> events, Instant now) {
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
              return findKeys(tx, events, ingestedAt)
                  .compose(
                      existing -> {
                        Plan plan = plan(events, head, existing, ingestedAt);
                        Appended done = new Appended(plan.results, plan.heads);
                        if (plan.write == null) {
                          return Future.succeededFuture(done);
                        }
                        return tx.preparedQuery(WRITE).execute(plan.write).map(ignored -> done);
                      });
            });
  }

  /**
   * Appends {@code events} in one transaction of its own on {@code conn}, sent at once (BEGIN, two
   * statements, COMMIT: PostgreSQL's pipelining, no wait for an answer in between), with seqs that
   * follow {@code expected}: each merchant's head as the caller believes it will be when this
   * transaction takes the merchant's row lock. That may be before an earlier transaction, still
   * committing on another connection, has committed: this one's keys and chunks are written
   * meanwhile, and it waits for the row locks only at its end.
   *
   * <p>It commits only if PostgreSQL agrees: every head as expected, and no event id stored before
   * within retention. Otherwise nothing is written and the future fails with a {@link
   * io.vertx.pgclient.PgException} of SQLSTATE {@link #EXPECTATION_FAILED}; {@link #appendLocked}
   * then does it the locking way. Events repeated within {@code events} are answered here as
   * duplicates of their first occurrence. The caller must not have two transactions holding the
   * same event id in flight at once (neither would see the other's keys).
   *
   * @param plan {@link #plan} of the events and the heads expected
   * @param atHeads completed once PostgreSQL has answered the heads statement: true when this
   *     transaction holds its merchants' row locks with the heads advanced (a transaction started
   *     now finds them there), false when it will roll back
   */
  public Future<Appended> appendExpecting(SqlConnection conn, Plan plan, Promise<Boolean> atHeads) {
    Appended done = new Appended(plan.results, plan.heads);
    if (plan.write == null) {
      atHeads.tryComplete(true);
      return Future.succeededFuture(done);
    }
    Future<?> begin = conn.query("BEGIN").execute();
    Future<?> write = conn.preparedQuery(WRITE_EXPECTING).execute(plan.writeExpecting);
    Future<?> heads = conn.preparedQuery(ADVANCE_HEADS).execute(plan.advanceHeads);
    heads.onComplete(ar -> atHeads.tryComplete(ar.succeeded()));
    // After a failed statement PostgreSQL ends the aborted transaction on COMMIT with a ROLLBACK.
    Future<?> commit = conn.query("COMMIT").execute();
    return Future.join(begin, write, heads, commit)
        .transform(
            ar -> {
              for (Future<?> f : List.of(begin, write, heads, commit)) {
                if (f.failed()) {
                  return Future.failedFuture(f.cause());
                }
              }
              return Future.succeededFuture(done);
            });
  }

  /**
   * Seqs, rendered events and statement parameters for appending {@code events} on top of {@code
   * expectedHeads} (each merchant's head; {@link #appendExpecting}): computed before the
   * transaction, so the caller can assume the resulting heads for the next one at once.
   */
  public Plan plan(List<NewEvent> events, Map<String, Long> expectedHeads, Instant now) {
    return plan(events, expectedHeads, now, true);
  }

  /**
   * {@link #plan}; {@code mayRepeat} false says no event id comes twice in {@code events}, which
   * spares looking each one up.
   */
  public Plan plan(
      List<NewEvent> events, Map<String, Long> expectedHeads, Instant now, boolean mayRepeat) {
    Instant ingestedAt = now.truncatedTo(java.time.temporal.ChronoUnit.MILLIS);
    return plan(
        events, new HashMap<>(expectedHeads), mayRepeat ? new HashMap<>() : null, ingestedAt);
  }

  private Instant[] keyWindow(Instant ingestedAt) {
    Instant from =
        retentionDays <= 0
            ? Instant.EPOCH
            : PartitionMaintainer.weekOf(
                    java.time.LocalDate.ofInstant(ingestedAt, ZoneOffset.UTC)
                        .minusDays(retentionDays))
                .atStartOfDay(ZoneOffset.UTC)
                .toInstant();
    return new Instant[] {from, ingestedAt.plus(CLOCK_SKEW)};
  }

  private Future<Map<Key, Long>> findKeys(
      SqlConnection tx, List<NewEvent> events, Instant ingestedAt) {
    String[] merchants = new String[events.size()];
    String[] ids = new String[events.size()];
    for (int i = 0; i < events.size(); i++) {
      merchants[i] = events.get(i).merchantId();
      ids[i] = events.get(i).eventId();
    }
    Instant[] window = keyWindow(ingestedAt);
    return tx.preparedQuery(FIND_KEYS)
        .execute(
            Tuple.tuple()
                .addArrayOfString(merchants)
                .addArrayOfString(ids)
                .addOffsetDateTime(window[0].atOffset(ZoneOffset.UTC))
                .addOffsetDateTime(window[1].atOffset(ZoneOffset.UTC)))
        .map(
            rows -> {
              Map<Key, Long> found = new HashMap<>();
              for (Row row : rows) {
                found.put(new Key(row.getString(0), row.getString(1)), row.getLong(2));
              }
              return found;
            });
  }

  /**
   * Seqs, renderings and parameters of one append: {@code head} (each merchant's head, advanced
   * here) and {@code seen} (stored keys, extended here; null when no id can repeat) are the
   * caller's copies.
   */
  private Plan plan(
      List<NewEvent> events, Map<String, Long> head, Map<Key, Long> seen, Instant ingestedAt) {
    String afterSeq = EventJson.afterSeq(ingestedAt);
    List<AppendResult> results = new ArrayList<>(events.size());
    List<String> keyMerchants = new ArrayList<>();
    List<String> keyIds = new ArrayList<>();
    List<Long> keySeqs = new ArrayList<>();
    Map<String, ChunkBuilder> chunks = new TreeMap<>();
    for (NewEvent e : events) {
      Key key = null;
      if (seen != null) {
        key = new Key(e.merchantId(), e.eventId());
        Long existing = seen.get(key);
        if (existing != null) {
          results.add(new AppendResult(e.merchantId(), e.eventId(), existing, true, null));
          continue;
        }
      }
      Long before = head.get(e.merchantId());
      if (before == null) {
        throw new IllegalArgumentException("no head given for merchant " + e.merchantId());
      }
      long seq = before + 1;
      head.put(e.merchantId(), seq);
      if (seen != null) {
        seen.put(key, seq);
      }
      String json = EventJson.line(seq, afterSeq, e.renderedTail());
      String masked = e.maskedTail() == null ? null : EventJson.line(seq, afterSeq, e.maskedTail());
      results.add(new AppendResult(e.merchantId(), e.eventId(), seq, false, json, masked));
      keyMerchants.add(e.merchantId());
      keyIds.add(e.eventId());
      keySeqs.add(seq);
      chunks
          .computeIfAbsent(e.merchantId(), m -> new ChunkBuilder())
          .add(seq, json, e.maskPatch() != null ? e.maskPatch() : masked);
    }
    if (keySeqs.isEmpty()) {
      return new Plan(results, head, null, null, null);
    }
    List<String> chunkMerchants = new ArrayList<>();
    List<Long> firsts = new ArrayList<>();
    List<Long> lasts = new ArrayList<>();
    List<String> bodies = new ArrayList<>();
    List<String> maskedBodies = new ArrayList<>();
    String[] headMerchants = chunks.keySet().toArray(String[]::new);
    Long[] heads = new Long[headMerchants.length];
    Long[] added = new Long[headMerchants.length];
    for (int i = 0; i < headMerchants.length; i++) {
      heads[i] = head.get(headMerchants[i]);
      List<ChunkBuilder.Chunk> built = chunks.get(headMerchants[i]).chunks();
      added[i] = built.get(built.size() - 1).last() - built.get(0).first() + 1;
      for (ChunkBuilder.Chunk c : built) {
        chunkMerchants.add(headMerchants[i]);
        firsts.add(c.first());
        lasts.add(c.last());
        bodies.add(c.body());
        maskedBodies.add(c.masked());
      }
    }
    String[] km = keyMerchants.toArray(String[]::new);
    String[] ki = keyIds.toArray(String[]::new);
    Long[] ks = keySeqs.toArray(Long[]::new);
    java.time.OffsetDateTime at = ingestedAt.atOffset(ZoneOffset.UTC);
    String[] cm = chunkMerchants.toArray(String[]::new);
    Long[] cf = firsts.toArray(Long[]::new);
    Long[] cl = lasts.toArray(Long[]::new);
    String[] cb = bodies.toArray(String[]::new);
    String[] cmk = maskedBodies.toArray(String[]::new);
    String fingerprint = PATCHED + masker.rules().fingerprint();
    Tuple write =
        Tuple.tuple()
            .addArrayOfString(km)
            .addArrayOfString(ki)
            .addArrayOfLong(ks)
            .addOffsetDateTime(at)
            .addArrayOfString(cm)
            .addArrayOfLong(cf)
            .addArrayOfLong(cl)
            .addArrayOfString(cb)
            .addArrayOfString(headMerchants)
            .addArrayOfLong(heads)
            .addArrayOfString(cmk)
            .addString(fingerprint);
    Instant[] window = keyWindow(ingestedAt);
    // What the unique index of the key partition written covers, so the lookup can skip it: the
    // week, once the catalog showed it is one partition; else at least today.
    java.time.LocalDate today = java.time.LocalDate.ofInstant(ingestedAt, ZoneOffset.UTC);
    java.time.LocalDate monday = PartitionMaintainer.weekOf(today);
    boolean wholeWeek = keyWeeks.contains(monday);
    Instant ownStart = (wholeWeek ? monday : today).atStartOfDay(ZoneOffset.UTC).toInstant();
    Instant ownEnd = ownStart.plus(Duration.ofDays(wholeWeek ? 7 : 1));
    Tuple writeExpecting =
        Tuple.tuple()
            .addArrayOfString(km)
            .addArrayOfString(ki)
            .addArrayOfLong(ks)
            .addOffsetDateTime(at)
            .addArrayOfString(cm)
            .addArrayOfLong(cf)
            .addArrayOfLong(cl)
            .addArrayOfString(cb)
            .addArrayOfString(cmk)
            .addString(fingerprint)
            .addOffsetDateTime(window[0].atOffset(ZoneOffset.UTC))
            .addOffsetDateTime(ownStart.atOffset(ZoneOffset.UTC))
            .addOffsetDateTime(ownEnd.atOffset(ZoneOffset.UTC))
            .addOffsetDateTime(window[1].atOffset(ZoneOffset.UTC));
    Tuple advanceHeads =
        Tuple.tuple().addArrayOfString(headMerchants).addArrayOfLong(added).addArrayOfLong(heads);
    return new Plan(results, head, write, writeExpecting, advanceHeads);
  }

  /** What an append answers: one result per event in input order, and the heads it leaves. */
  public record Appended(List<AppendResult> results, Map<String, Long> heads) {}

  /**
   * An append worked out before its transaction (see {@link #plan}): {@code heads} are the heads it
   * leaves once committed.
   */
  public static final class Plan {
    private final List<AppendResult> results;
    private final Map<String, Long> heads;
    private final Tuple write;
    private final Tuple writeExpecting;
    private final Tuple advanceHeads;

    private Plan(
        List<AppendResult> results,
        Map<String, Long> heads,
        Tuple write,
        Tuple writeExpecting,
        Tuple advanceHeads) {
      this.results = results;
      this.heads = heads;
      this.write = write;
      this.writeExpecting = writeExpecting;
      this.advanceHeads = advanceHeads;
    }

    public Map<String, Long> heads() {
      return heads;
    }
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
              for (Row row : rows) {
                long seq = row.getLong(0);
                String body = row.getString(1);
                Masking masking = masking(row.getString(3), row.getString(2));
                int start = 0;
                while (start < body.length() && out.size() < maxEvents) {
                  int end = lineEnd(body, start);
                  String maskedLine = masking.next();
                  if (seq >= fromSeq) {
                    String line = body.substring(start, end);
                    out.add(new LoggedEvent(seq, line, masking.masked(line, maskedLine)));
                  }
                  seq++;
                  start = end + 1;
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
    return client
        .preparedQuery(READ_FOR_SCOPE)
        .execute(Tuple.of(merchantId, fromSeq, maxChunks, (long) maxEvents, pii))
        .map(
            rows -> {
              List<LoggedEvent> out = new ArrayList<>(Math.min(maxEvents, 1024));
              for (Row row : rows) {
                long seq = row.getLong(0);
                String body = row.getString(1);
                Masking masking = pii ? null : masking(row.getString(3), row.getString(2));
                int start = 0;
                while (start < body.length() && out.size() < maxEvents) {
                  int end = lineEnd(body, start);
                  String maskedLine = masking == null ? null : masking.next();
                  if (seq >= fromSeq) {
                    String masked =
                        masking == null ? null : masking.masked(body, start, end, maskedLine);
                    out.add(
                        new LoggedEvent(seq, masked != null ? masked : body.substring(start, end)));
                  }
                  seq++;
                  start = end + 1;
                }
              }
              return out;
            });
  }

  /** How a chunk's events are masked: by {@code masked_by} and {@code masked}. */
  private Masking masking(String maskedBy, String masked) {
    String fingerprint = masker.rules().fingerprint();
    if (maskedBy != null
        && maskedBy.startsWith(PATCHED)
        && maskedBy.regionMatches(PATCHED.length(), fingerprint, 0, fingerprint.length())
        && maskedBy.length() == PATCHED.length() + fingerprint.length()) {
      return new Masking(masker, masked, true, true);
    }
    // masked at ingest under these rules as a whole rendering (before PATCHED), or not to be
    // trusted (other rules, or before masking existed): masked while reading
    return new Masking(masker, masked, fingerprint.equals(maskedBy), false);
  }

  /**
   * Walks a chunk's {@code masked} column line by line beside its events: {@link #next} gives the
   * current event's entry, {@link #masked} the event as an app without {@code pii} receives it
   * (null when that is the line itself).
   */
  private static final class Masking {
    private final Masker masker;
    private final String masked;
    private final boolean trusted;
    private final boolean patched;
    private int at;

    Masking(Masker masker, String masked, boolean trusted, boolean patched) {
      this.masker = masker;
      this.masked = masked;
      this.trusted = trusted;
      this.patched = patched;
    }

    /** A trusted column with fewer lines than the chunk has events: not to be believed. */
    private static final String MISSING = new String("missing");

    /** The next event's line of {@code masked} (null when there is none to read). */
    String next() {
      if (!trusted || masked == null) {
        return null;
      }
      if (at > masked.length()) {
        return MISSING;
      }
      int end = lineEnd(masked, at);
      String entry = masked.substring(at, end);
      at = end + 1;
      return entry;
    }

    /** {@code line} masked, given its entry from {@link #next}; null when nothing is to mask. */
    String masked(String line, String entry) {
      return masked(line, 0, line.length(), entry);
    }

    /** {@link #masked(String, String)} of the line {@code text[from, to)}. */
    String masked(String text, int from, int to, String entry) {
      if (!trusted || entry == MISSING) {
        return masker.maskLine(text.substring(from, to));
      }
      if (entry == null || entry.isEmpty()) {
        return null;
      }
      if (!patched || entry.charAt(0) == '{') {
        return entry;
      }
      try {
        return MaskPatch.apply(text, from, to, entry);
      } catch (IllegalArgumentException notAPatch) {
        // a damaged column: masked here rather than failing every read of the chunk (a channel
        // would never get past it) or sending the line as it is
        return masker.maskLine(text.substring(from, to));
      }
    }
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

  /**
   * The lowest seq at or after {@code fromSeq} still stored for the merchant, or head + 1 if none
   * is: where delivery goes on when retention removed what came before it.
   */
  public Future<Long> nextStored(SqlClient client, String merchantId, long fromSeq) {
    return client
        .preparedQuery(
            "SELECT (SELECT greatest(first_seq, $2) FROM event_chunks WHERE merchant_id = $1"
                + " AND last_seq >= $2 ORDER BY last_seq LIMIT 1),"
                + " (SELECT head_seq FROM merchants WHERE merchant_id = $1)")
        .execute(Tuple.of(merchantId, fromSeq))
        .map(
            rows -> {
              Row r = rows.iterator().next();
              Long next = r.getLong(0);
              Long head = r.getLong(1);
              return next != null ? next : (head == null ? 0L : head) + 1;
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

  /** The merchant's highest assigned seq, 0 if it has no events. */
  public Future<Long> head(SqlClient pool, String merchantId) {
    return pool.preparedQuery(HEAD)
        .execute(Tuple.of(merchantId))
        .map(rows -> rows.size() == 0 ? 0L : rows.iterator().next().getLong(0));
  }

  /** Chunks an order lookup reads at most: an order has a handful of events. */
  static final int ORDER_MAX_CHUNKS = 1000;

  /**
   * The events of one order: merchant {@code merchants[i]}'s seq {@code seqs[i]}, by merchant and
   * seq.
   */
  public record OrderEvents(String[] merchants, long[] seqs, boolean truncated) {
    public OrderEvents(String[] merchants, long[] seqs) {
      this(merchants, seqs, false);
    }

    public boolean isEmpty() {
      return seqs.length == 0;
    }
  }

  /**
   * The events of the order {@code orderId} among the stored events of {@code merchantIds} ingested
   * up to {@code until} (null: all retained). Order ids are unique per merchant, so with several
   * merchants there may be one order of that id at each. There is no index by order: PostgreSQL
   * scans the merchants' chunks in that range and returns only those whose text holds the order's
   * id; of their lines, those whose own {@code orderId} is it count. More than {@value
   * #ORDER_MAX_CHUNKS} such chunks are not read: the answer is then empty and {@code truncated},
   * and must not be answered from. For operators' audit queries, never delivery.
   */
  public Future<OrderEvents> eventsOfOrder(
      SqlClient client, List<String> merchantIds, String orderId, Instant until) {
    String needle = EventJson.orderIdMember(orderId);
    Tuple args =
        Tuple.tuple()
            .addArrayOfString(merchantIds.toArray(String[]::new))
            .addString(needle)
            .addInteger(ORDER_MAX_CHUNKS + 1);
    String sql =
        "SELECT merchant_id, first_seq, events FROM event_chunks WHERE merchant_id = ANY($1)"
            + " AND strpos(events, $2) > 0";
    if (until != null) {
      args.addOffsetDateTime(until.atOffset(ZoneOffset.UTC));
      sql += " AND ingested_at <= $4";
    }
    return client
        .preparedQuery(sql + " ORDER BY merchant_id, last_seq LIMIT $3")
        .execute(args)
        .map(
            rows -> {
              if (rows.size() > ORDER_MAX_CHUNKS) {
                return new OrderEvents(new String[0], new long[0], true);
              }
              List<String> merchants = new ArrayList<>();
              List<Long> seqs = new ArrayList<>();
              for (Row row : rows) {
                String merchant = row.getString(0);
                long seq = row.getLong(1);
                for (String line : row.getString(2).split("\n", -1)) {
                  // the id may also appear as a key inside data: only the event's own counts
                  if (line.contains(needle)
                      && orderId.equals(
                          new io.vertx.core.json.JsonObject(line).getValue("orderId"))) {
                    merchants.add(merchant);
                    seqs.add(seq);
                  }
                  seq++;
                }
              }
              return new OrderEvents(
                  merchants.toArray(String[]::new),
                  seqs.stream().mapToLong(Long::longValue).toArray());
            });
  }

  private record Key(String merchantId, String eventId) {}
}
