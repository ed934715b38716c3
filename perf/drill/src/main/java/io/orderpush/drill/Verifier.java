package io.orderpush.drill;

import io.orderpush.synthetic.Population;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.HdrHistogram.Recorder;

/**
 * What one verifying consumer (an app) checks, event by event, as it applies them. Confined to the
 * consumer's event loop; the counters are volatile so the drill's sampler can read them.
 *
 * <ul>
 *   <li><b>Order per merchant:</b> every event's seq is the last applied + 1. A seq above that is a
 *       <em>gap</em> (something skipped or reordered); a seq at or below it is a repeat: the event
 *       was applied already and came again (<em>applied twice</em> for a consumer that does not
 *       deduplicate; this one skips it).
 *   <li><b>Order per order:</b> each order's events follow its life cycle ({@link Population}),
 *       starting with {@code order.created}; a wrong or repeated step is a <em>life cycle
 *       error</em>.
 *   <li><b>Nothing lost:</b> at the end, every merchant's last applied seq must equal the number of
 *       events the population gives it, and no order may be left half way.
 * </ul>
 *
 * Commit-to-receipt latency (receipt of the message minus the event's {@code ingestedAt}) of every
 * newly applied event goes into {@link #latencyMicros}.
 *
 * <p><b>Moves</b> (several nodes, or a node killed): a channel that changes hands starts again from
 * the gateway's cursor, so events applied but not (yet) acknowledged come again. Such a repeat is a
 * <em>redelivery</em>, expected and skipped (as an ISV's store skips it), when {@link
 * #movesExpected} and all of these hold; otherwise it counts as applied twice:
 *
 * <ul>
 *   <li>it lies above the <em>stored cursor</em>: the highest cursor the gateway showed as stored
 *       ({@code GET /v1/lag}, read every few seconds through a live node, and right after a kill)
 *       before the repeat arrived. That is the contract: events at or below the cursor are never
 *       delivered again, and a cursor that is stored never moves back;
 *   <li>it opens or continues one run of redelivery at a hand-over: on WebSocket the first events
 *       of a new delivery stream (a connection's new assignment of the merchant), then each seq the
 *       next; on callbacks (no connection to tell owners apart) one run per merchant after the
 *       kill.
 * </ul>
 *
 * A WebSocket stream that was replaced by another and delivers again is a channel delivered by two
 * connections at once ({@link #doubleOwners}), a failure whatever the seqs.
 *
 * <p>An ack is not a stored cursor: a node that loses a channel (its lease lapsed on a starved
 * machine, or it was killed) before its fenced commit lands never stores the acks it had, and the
 * next owner starts from the cursor Redis holds. A redelivery accepted above the stored cursor but
 * at or below an ack the consumer sent at least {@link #ackSettleMs} before is counted apart
 * ({@link #ackedNotStored}) so the report shows how often that happened.
 */
final class Verifier {

  private static final int MAX_KEPT_ERRORS = 20;

  /** Per merchant: last applied seq, and its orders still open (order number -> steps done). */
  static final class MerchantState {
    final Population.Merchant merchant;
    long last;
    final Map<Integer, Integer> open = new HashMap<>();

    /** The highest cursor the gateway showed as stored: nothing at or below it may come again. */
    long stored;

    /** The highest seq acked at least {@link #ackSettleMs} ago, and the acks too recent for it. */
    long firm;

    final ArrayDeque<long[]> recentAcks = new ArrayDeque<>();

    /** The delivery stream of the last event (0: callbacks), the ones it replaced, its next seq. */
    long stream = -1;

    final List<Long> retired = new ArrayList<>(2);
    long streamNext = -1;
    boolean streamStarted;

    /** The last event was an accepted redelivery: the next seq may continue the run. */
    boolean inRun;

    /** Runs of redelivery on callbacks since the kill. */
    int runsAfterKill;

    /** The first event delivered after the kill: arrival and ingestedAt (epoch ms), or -1. */
    long firstAfterKillMillis = -1;

    long firstAfterKillIngested = -1;

    MerchantState(Population.Merchant merchant) {
      this.merchant = merchant;
    }
  }

  final String name;
  private final Population population;
  private final Map<String, MerchantState> merchants = new HashMap<>();
  final Recorder latencyMicros = new Recorder(3);
  private final List<String> firstErrors = new ArrayList<>();
  volatile long applied;
  volatile long repeats;
  volatile long gaps;
  volatile long lifecycleErrors;

  /** Other errors: unknown merchants, unparsable messages, bad signatures, closed connections. */
  volatile long errors;

  volatile long messages;

  /** Repeats above the stored cursor at a hand-over: expected with moves, skipped. */
  volatile long redelivered;

  /**
   * Of {@link #redelivered}: at or below an ack sent at least {@link #ackSettleMs} before, which
   * the gateway had not stored when the channel moved.
   */
  volatile long ackedNotStored;

  /** Merchants that changed delivery stream (WebSocket connection or assignment). */
  volatile long handovers;

  /**
   * Events of a channel from a stream replaced by another one, handed over after its connection was
   * told {@code unassigned}: two owners at once.
   */
  volatile long doubleOwners;

  /**
   * Events of a stream replaced by another one, sent before its connection was revoked but handed
   * over late (see {@link #event(MerchantState, long, String, String, String, long, long,
   * boolean)}): expected with moves.
   */
  volatile long lateFromMoved;

  /** Acks the gateway refused because the channel had moved (WebSocket {@code not_assigned}). */
  volatile long refusedAcks;

  /** Connections that closed and were opened again (to another node when there is one). */
  volatile long reconnects;

  /** Whether channels may change hands (several nodes or a kill): repeats may be redeliveries. */
  boolean movesExpected;

  long ackSettleMs = 5_000;

  /** When a node was killed (epoch ms), or -1. */
  private long killMillis = -1;

  private final IngestedAt ingestedAt = new IngestedAt();

  Verifier(String name, Population population) {
    this.name = name;
    this.population = population;
    for (Population.Merchant m : population.merchants()) {
      merchants.put(m.id(), new MerchantState(m));
    }
  }

  /**
   * The merchant's state, or null (counted as an error) when the population has no such merchant.
   */
  MerchantState merchant(String id) {
    MerchantState m = id == null ? null : merchants.get(id);
    if (m == null) {
      error("events of unknown merchant " + id);
    }
    return m;
  }

  /**
   * One delivered event (of the callback transport or a single stream). Returns true if it was
   * newly applied, false if it was a repeat.
   *
   * @param ingestedAt the event's {@code ingestedAt} (ISO-8601), or null
   */
  boolean event(
      MerchantState m,
      long seq,
      String orderId,
      String type,
      String ingestedAt,
      long arrivalMicros) {
    return event(m, seq, orderId, type, ingestedAt, arrivalMicros, 0);
  }

  /**
   * One delivered event from delivery stream {@code stream} (WebSocket: a connection's assignment
   * of the merchant; 0: callbacks). Returns true if it was newly applied, false if it was a repeat
   * (a redelivery or applied twice).
   */
  boolean event(
      MerchantState m,
      long seq,
      String orderId,
      String type,
      String ingestedAt,
      long arrivalMicros,
      long stream) {
    return event(m, seq, orderId, type, ingestedAt, arrivalMicros, stream, true);
  }

  /**
   * One delivered event from delivery stream {@code stream}; {@code afterRevoke}: whether the
   * stream's connection had been told {@code unassigned} for the merchant before the batch was
   * handed over (WebSocket; true where that cannot be told). A batch of a stream that another has
   * replaced, handed over before its connection read {@code unassigned}, was sent before the
   * gateway revoked that connection and reached the app late (it sat in the connection's buffers or
   * the library's queue while the new owner's events went ahead): a <em>late batch of a moved
   * channel</em>, skipped where already applied (an ISV's store skips it by seq), never a failure.
   * After {@code unassigned}, it is two owners at once.
   */
  boolean event(
      MerchantState m,
      long seq,
      String orderId,
      String type,
      String ingestedAt,
      long arrivalMicros,
      long stream,
      boolean afterRevoke) {
    long arrivalMillis = arrivalMicros / 1000;
    if (stream != 0 && !afterRevoke && m.retired.contains(stream)) {
      // Skipped whether or not applied already: the new owner delivers everything above the
      // cursor it started from, and its events are the ones judged.
      lateFromMoved++;
      lateByStream.merge(stream, 1L, Long::sum);
      return false;
    }
    if (killMillis > 0 && m.firstAfterKillMillis < 0 && arrivalMillis >= killMillis) {
      m.firstAfterKillMillis = arrivalMillis;
      m.firstAfterKillIngested = ingestedAt == null ? -1 : this.ingestedAt.millis(ingestedAt);
    }
    if (stream != m.stream) {
      if (m.retired.contains(stream)) {
        doubleOwners++;
        record(
            m.merchant.id()
                + ": seq "
                + seq
                + " from a connection whose channel had moved to another (two owners at once)");
      } else {
        if (m.stream != -1) {
          handovers++;
          if (m.retired.size() >= 8) {
            m.retired.remove(0);
          }
          m.retired.add(m.stream);
        }
        m.stream = stream;
        m.streamStarted = false;
      }
    }
    boolean opensStream = !m.streamStarted;
    boolean continues = m.inRun && m.streamNext == seq;
    m.inRun = false;
    m.streamStarted = true;
    m.streamNext = seq + 1;
    if (seq <= m.last) {
      settle(m, arrivalMillis);
      boolean run;
      if (stream != 0) {
        run = opensStream || continues;
      } else if (killMillis > 0 && arrivalMillis >= killMillis) {
        run = continues || m.runsAfterKill++ == 0;
      } else {
        run = false;
      }
      if (movesExpected && seq > m.stored && run) {
        redelivered++;
        if (seq <= m.firm) {
          ackedNotStored++;
        }
        m.inRun = true;
        return false;
      }
      repeats++;
      record(
          m.merchant.id()
              + ": seq "
              + seq
              + " delivered again (last applied "
              + m.last
              + ", stored cursor at least "
              + m.stored
              + ", acked "
              + m.firm
              + (movesExpected && seq > m.stored ? ", not at a hand-over" : "")
              + ")");
      return false;
    }
    return apply(m, seq, orderId, type, ingestedAt, arrivalMicros);
  }

  /** Applies an event above the last applied one: order, life cycle and latency checks. */
  private boolean apply(
      MerchantState m,
      long seq,
      String orderId,
      String type,
      String ingestedAt,
      long arrivalMicros) {
    if (seq != m.last + 1) {
      gaps++;
      record(m.merchant.id() + ": seq " + seq + " arrived where " + (m.last + 1) + " was due");
    }
    m.last = seq;
    applied++;
    checkLifecycle(m, orderId, type);
    if (ingestedAt != null) {
      latencyMicros.recordValue(
          Math.max(0, arrivalMicros - this.ingestedAt.millis(ingestedAt) * 1000));
    }
    return true;
  }

  /** The consumer acknowledged the merchant's events up to {@code seq} at {@code atMillis}. */
  void acked(MerchantState m, long seq, long atMillis) {
    m.recentAcks.addLast(new long[] {seq, atMillis});
    settle(m, atMillis);
  }

  /**
   * Late events per stream (see {@link #lateFromMoved}), until the stream is known to have ended.
   */
  private final Map<Long, Long> lateByStream = new HashMap<>();

  /** Streams that ended: their connection was told {@code unassigned}, or it closed. */
  private final java.util.Set<Long> endedStreams = new java.util.HashSet<>();

  /**
   * A delivery stream ended (its connection read {@code unassigned} for it, or closed): late events
   * it sent before are in flight, not a second owner.
   */
  void ended(long stream) {
    endedStreams.add(stream);
  }

  /** Acks older than {@link #ackSettleMs} at {@code nowMillis} join the sure acked cursor. */
  private void settle(MerchantState m, long nowMillis) {
    long[] a;
    while ((a = m.recentAcks.peekFirst()) != null && a[1] <= nowMillis - ackSettleMs) {
      m.firm = Math.max(m.firm, a[0]);
      m.recentAcks.pollFirst();
    }
  }

  /**
   * A node was killed at {@code atMillis}: acks not yet stored when it died never will be, so the
   * acks so far no longer tell the acked cursor; {@link #storedAtKill} does.
   */
  void killed(long atMillis) {
    killMillis = atMillis;
    for (MerchantState m : merchants.values()) {
      m.recentAcks.clear();
    }
  }

  /**
   * The cursors stored when the node had died (read through a live node right after the kill,
   * before any takeover): the dead node's channels start again from exactly these, the others from
   * these or later.
   */
  void storedAtKill(Map<String, Long> cursors) {
    for (MerchantState m : merchants.values()) {
      if (cursors.containsKey(m.merchant.id())) {
        storedCursors++;
      }
    }
    stored(cursors);
  }

  /**
   * Cursors the gateway showed as stored ({@code GET /v1/lag}); call on the verifier's loop once
   * the answer is in, so every event that arrives afterwards is judged by them. Stored cursors
   * never move back, so the highest seen per merchant counts.
   */
  void stored(Map<String, Long> cursors) {
    for (Map.Entry<String, Long> e : cursors.entrySet()) {
      MerchantState m = merchants.get(e.getKey());
      if (m != null && e.getValue() != null) {
        m.stored = Math.max(m.stored, e.getValue());
      }
    }
  }

  /**
   * Per merchant, the gateway's stored cursor and head at the end ({@code GET /v1/lag}), read when
   * events are missing: a cursor below the head means the gateway never had them acked.
   */
  Map<String, long[]> gatewayView = Map.of();

  /** Channels whose stored cursor at the kill is known (0: the acks alone tell the cursor). */
  long storedCursors;

  /**
   * After a kill: per transport, how long channels waited. A channel waited when its first event
   * delivered after the kill came more than 1 s after the kill and after that event was stored; the
   * takeover time is the kill to the last such first delivery.
   */
  Takeover takeover() {
    if (killMillis < 0) {
      return new Takeover(-1, 0, -1, 0);
    }
    long waited = 0;
    long lastMillis = -1;
    long delivered = 0;
    long maxWait = -1;
    for (MerchantState m : merchants.values()) {
      if (m.firstAfterKillMillis < 0) {
        continue;
      }
      delivered++;
      long from = Math.max(killMillis, m.firstAfterKillIngested);
      if (m.firstAfterKillMillis - from > 1_000) {
        waited++;
        lastMillis = Math.max(lastMillis, m.firstAfterKillMillis);
        maxWait = Math.max(maxWait, m.firstAfterKillMillis - from);
      }
    }
    return new Takeover(lastMillis < 0 ? -1 : lastMillis - killMillis, waited, maxWait, delivered);
  }

  /**
   * @param millis kill to the last first delivery of a channel that waited; -1: none waited (or no
   *     kill)
   * @param waited channels whose first delivery after the kill waited more than 1 s
   * @param maxWaitMillis the longest such wait (from the kill or the event's ingest, the later)
   * @param delivered channels that got any event after the kill
   */
  record Takeover(long millis, long waited, long maxWaitMillis, long delivered) {}

  private void checkLifecycle(MerchantState m, String orderId, String type) {
    int orderNo =
        orderId == null || !orderId.startsWith(m.merchant.id()) ? -1 : Population.orderNo(orderId);
    if (orderNo < 0 || orderNo >= m.merchant.orders()) {
      lifecycle(m.merchant.id() + ": event with an order id not of this merchant: " + orderId);
      return;
    }
    String[] cycle = population.lifecycle(m.merchant.index(), orderNo);
    int done = m.open.getOrDefault(orderNo, 0);
    if (done >= cycle.length || !cycle[done].equals(type)) {
      lifecycle(
          orderId
              + ": "
              + type
              + " arrived where "
              + (done < cycle.length ? cycle[done] : "nothing more")
              + " was due");
      return;
    }
    if (done + 1 == cycle.length) {
      m.open.remove(orderNo);
    } else {
      m.open.put(orderNo, done + 1);
    }
  }

  private void lifecycle(String what) {
    lifecycleErrors++;
    record(what);
  }

  /**
   * A problem outside the per-event checks (protocol, parsing, signatures, connections): counted in
   * {@link #errors}.
   */
  void error(String what) {
    errors++;
    record(what);
  }

  /** Keeps (and prints) the first few problems of any kind for the report. */
  private void record(String what) {
    if (firstErrors.size() < MAX_KEPT_ERRORS) {
      firstErrors.add(what);
      System.err.println("drill: " + name + ": " + what);
    }
  }

  /** The end of the drill: per merchant, what is missing, and the orders left half way. */
  Outcome outcome() {
    // A replaced stream whose connection was never told it moved, nor closed, was a second owner:
    // its late events count as such.
    long unrevoked = 0;
    for (Map.Entry<Long, Long> e : lateByStream.entrySet()) {
      if (!endedStreams.contains(e.getKey())) {
        unrevoked += e.getValue();
      }
    }
    if (unrevoked > 0) {
      record(
          unrevoked + " events from connections whose channel had moved without them being told");
    }
    long lost = 0;
    long extra = 0;
    long openOrders = 0;
    List<String> problems = new ArrayList<>(firstErrors);
    for (MerchantState m : merchants.values()) {
      long expected = population.eventsOf(m.merchant.index());
      if (m.last < expected) {
        lost += expected - m.last;
        if (problems.size() < MAX_KEPT_ERRORS) {
          long[] g = gatewayView.get(m.merchant.id());
          problems.add(
              m.merchant.id()
                  + ": last applied seq "
                  + m.last
                  + " of "
                  + expected
                  + (g == null
                      ? ""
                      : " (the gateway's stored cursor " + g[0] + ", head " + g[1] + ")"));
        }
      } else if (m.last > expected) {
        extra += m.last - expected;
      }
      openOrders += m.open.size();
    }
    return new Outcome(
        applied,
        lost,
        extra,
        repeats,
        gaps,
        lifecycleErrors,
        openOrders,
        errors,
        List.copyOf(problems),
        redelivered,
        handovers,
        doubleOwners + unrevoked,
        refusedAcks,
        reconnects,
        takeover(),
        ackedNotStored,
        lateFromMoved);
  }

  record Outcome(
      long applied,
      long lost,
      long extra,
      long repeats,
      long gaps,
      long lifecycleErrors,
      long openOrders,
      long errors,
      List<String> firstErrors,
      long redelivered,
      long handovers,
      long doubleOwners,
      long refusedAcks,
      long reconnects,
      Takeover takeover,
      long ackedNotStored,
      long lateFromMoved) {

    Outcome(
        long applied,
        long lost,
        long extra,
        long repeats,
        long gaps,
        long lifecycleErrors,
        long openOrders,
        long errors,
        List<String> firstErrors) {
      this(
          applied,
          lost,
          extra,
          repeats,
          gaps,
          lifecycleErrors,
          openOrders,
          errors,
          firstErrors,
          0,
          0,
          0,
          0,
          0,
          new Takeover(-1, 0, -1, 0),
          0,
          0);
    }

    boolean passed() {
      return lost == 0
          && extra == 0
          && repeats == 0
          && doubleOwners == 0
          && gaps == 0
          && lifecycleErrors == 0
          && openOrders == 0
          && errors == 0;
    }
  }

  static long micros(Instant t) {
    return IngestedAt.micros(t);
  }
}
