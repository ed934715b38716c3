package io.orderpush.persistence.events;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.AsyncResult;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Groups concurrent ingest requests into shared transactions, and keeps up to {@code transactions}
 * of them in flight at once, each on its own connection.
 *
 * <p>Seqs follow commit order because each transaction advances its merchants' heads under their
 * row locks (in sorted order) and holds them until it commits. A group whose merchants' heads this
 * committer knows (from its own earlier commits) takes the expected-heads path ({@link
 * EventLog#appendExpecting}): its seqs continue from the heads the groups before it will leave,
 * whether or not those have committed yet, and the whole transaction goes out in one round trip.
 * PostgreSQL writes its keys and chunks while the earlier group commits, and the transaction waits
 * for the shared merchants' row locks only at its end, where it checks that every head is where its
 * seqs assumed. If not (an earlier transaction failed, another node wrote, an event id came back),
 * it rolls back and the group runs again the locking way ({@link EventLog#appendLocked}), which
 * reads the heads under lock first; merchants seen for the first time go that way too. Two groups
 * in flight never hold the same event id: a request repeating one still in flight waits for it.
 *
 * <p>Groups complete in the order they were started: answers, and the committed events handed to
 * delivery, keep each merchant's seq order. All state lives on one Vert.x context, so nothing here
 * needs a lock. The queue is bounded: past {@code maxQueuedEvents} a request is refused with {@link
 * IngestOverloadedException} rather than buffered. Every request is answered within {@code
 * answerWithin}: one still waiting then fails with {@link IngestTimeoutException}, whether it is
 * queued behind a commit that PostgreSQL does not answer or in it (the connection itself is cut by
 * the pool's read-idle timeout, see {@code PgPools}).
 */
public final class GroupCommitter {

  /**
   * @param transactions group-commit transactions in flight at once (and writer connections)
   * @param maxGroupEvents events one transaction takes at most (a larger request still goes alone)
   * @param maxQueuedEvents events waiting before requests are refused
   * @param answerWithin longest a request waits for its commit before it fails with {@link
   *     IngestTimeoutException}; zero for no limit
   */
  public record Settings(
      int transactions, int maxGroupEvents, int maxQueuedEvents, Duration answerWithin) {

    /** Settings without an answer deadline. */
    public Settings(int transactions, int maxGroupEvents, int maxQueuedEvents) {
      this(transactions, maxGroupEvents, maxQueuedEvents, Duration.ZERO);
    }
  }

  private static final int MAX_ATTEMPTS = 3;

  private final Context context;
  private final Vertx vertx;
  private final Pool writers;
  private final EventLog log;
  private final Settings settings;
  private final IngestMetrics metrics;
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();

  /** Groups started and not yet finished, in the order they started. */
  private final ArrayDeque<Group> inFlight = new ArrayDeque<>();

  /** The event ids of the groups in flight. */
  private final Set<Key> inFlightKeys = new HashSet<>();

  /**
   * Each merchant's head once every group in flight has committed, for the merchants this committer
   * can vouch for: learnt from a locking commit, advanced by each expected-heads group as it
   * starts, forgotten whenever a transaction fails; the least recently used beyond {@link
   * KnownHeads#CAPACITY} too.
   */
  private final Map<String, Long> knownHeads;

  /** Merchants whose head a locking group in flight will tell: not known until it finishes. */
  private final Map<String, Group> awaitedHeads = new HashMap<>();

  /** Expected-heads groups that do not hold their heads yet (0 or 1). */
  private int writing;

  /** Expected-heads groups in flight. */
  private int expectingInFlight;

  /**
   * After PostgreSQL refused an expected-heads group, groups take the locking way until then (ms):
   * another writer (another node) moves these merchants' heads, and every group that expects them
   * would pay a rollback and a second transaction. The rest doubles with each refusal in a row,
   * from {@link #MIN_REST_MS} to {@link #MAX_REST_MS}; a group that commits as expected ends it.
   */
  private long expectingRestsUntil;

  private long restMs;
  static final long MIN_REST_MS = 1000;
  static final long MAX_REST_MS = 30_000;

  /** Whether the expected-heads way rests now (see {@link #expectingRestsUntil}). */
  private boolean expectingRests() {
    return System.currentTimeMillis() < expectingRestsUntil;
  }

  private volatile int queuedEvents;
  private volatile Consumer<Map<String, List<LoggedEvent>>> onCommitted = stored -> {};
  private volatile Consumer<Set<String>> onUncertain = merchants -> {};
  private boolean closed;
  private Promise<Void> drained;

  public GroupCommitter(
      Vertx vertx, Pool writers, EventLog log, Settings settings, MeterRegistry registry) {
    this.context = vertx.getOrCreateContext();
    this.vertx = vertx;
    this.writers = writers;
    this.log = log;
    this.settings = settings;
    this.metrics = new IngestMetrics(registry, () -> queuedEvents);
    this.knownHeads = new KnownHeads(KnownHeads.CAPACITY, metrics.headsForgotten::increment);
    if (settings.transactions() < 1) {
      throw new IllegalArgumentException(
          "transactions must be at least 1, was " + settings.transactions());
    }
  }

  /**
   * Appends one request's events atomically. The future completes, on the caller's context, only
   * after the transaction holding them has committed.
   */
  public Future<List<AppendResult>> append(List<NewEvent> events) {
    if (events.isEmpty()) {
      return Future.succeededFuture(List.of());
    }
    Context caller = Vertx.currentContext();
    Promise<List<AppendResult>> promise = Promise.promise();
    context.runOnContext(v -> enqueue(new Pending(events, promise, caller)));
    return promise.future();
  }

  /**
   * Called after every commit that stored new events, with each such merchant's new events in seq
   * order, on the committer's context. Delivery uses it to wake the channels of those merchants at
   * once, and to serve caught-up channels without reading the log back.
   */
  public void onCommitted(Consumer<Map<String, List<LoggedEvent>>> listener) {
    this.onCommitted = listener;
  }

  /**
   * Called with the merchants of a group whose commit failed: when the failure was the answer being
   * lost, the events may be committed although nobody was told, and a retry of the request will
   * come back as a duplicate that wakes nobody.
   */
  public void onUncertain(Consumer<Set<String>> listener) {
    this.onUncertain = listener;
  }

  /** Requests waiting for a transaction (each holds its events in memory). */
  Future<Integer> queuedRequests() {
    Promise<Integer> size = Promise.promise();
    context.runOnContext(v -> size.complete(queue.size()));
    return size.future();
  }

  /** Refuses new requests and completes once every accepted one has committed or failed. */
  public Future<Void> close() {
    Promise<Void> done = Promise.promise();
    context.runOnContext(
        v -> {
          closed = true;
          drained = done;
          completeDrainIfIdle();
        });
    return done.future();
  }

  private void enqueue(Pending p) {
    if (closed) {
      metrics.rejectedClosed.increment();
      p.fail(new IngestOverloadedException("ingest is shutting down"));
      return;
    }
    int size = p.events.size();
    if (queuedEvents + size > settings.maxQueuedEvents() && queuedEvents > 0) {
      metrics.rejectedFull.increment();
      p.fail(
          new IngestOverloadedException(
              "ingest queue full (queued="
                  + queuedEvents
                  + " events, limit="
                  + settings.maxQueuedEvents()
                  + ")"));
      return;
    }
    queuedEvents += size;
    long deadline = settings.answerWithin().toMillis();
    if (deadline > 0) {
      p.timer = vertx.setTimer(deadline, id -> expire(p));
    }
    queue.add(p);
    flush();
  }

  /**
   * Answers a request whose commit has not been confirmed in time. A queued request leaves the
   * queue now, its events with it (they no longer count against the queue's limit, so they must not
   * stay in memory either: a slow PostgreSQL with clients retrying every timeout would pile them up
   * past it); one in a running transaction is answered now, and the transaction's outcome, whatever
   * it is, no longer reaches it.
   */
  private void expire(Pending p) {
    p.timer = -1;
    if (p.answered) {
      return;
    }
    p.expired = true;
    if (!p.inGroup) {
      release(p);
      queue.remove(p); // at most the queue's limit of requests to walk, on a timeout only
    }
    metrics.timedOut.increment();
    p.fail(
        new IngestTimeoutException(
            "PostgreSQL did not confirm the commit within "
                + settings.answerWithin().toMillis()
                + " ms (queued="
                + queuedEvents
                + " events); the events may or may not be stored: retry them with the same"
                + " event ids"));
  }

  /** Cancels a request's answer deadline once it is answered, so the timer does not keep it. */
  private void cancelDeadline(Pending p) {
    if (p.timer >= 0) {
      vertx.cancelTimer(p.timer);
      p.timer = -1;
    }
  }

  /** Takes a request's events off the queue count, once. */
  private void release(Pending p) {
    if (!p.released) {
      p.released = true;
      queuedEvents -= p.events.size();
    }
  }

  /**
   * Starts groups while there is room in flight and requests to take. A group starts only once the
   * expected-heads group before it holds its heads (its remaining work is COMMIT): the new one
   * writes its keys and chunks meanwhile and finds the heads where it expects them. Started any
   * earlier, it could reach a shared merchant's row before the group before it, find the head short
   * of what it expects and be refused.
   */
  private void flush() {
    while (inFlight.size() < settings.transactions() && writing == 0) {
      while (!queue.isEmpty() && queue.peek().expired) {
        queue.poll();
      }
      if (queue.isEmpty() || conflictsInFlight(queue.peek())) {
        return;
      }
      List<Pending> requests = new ArrayList<>();
      List<NewEvent> events = new ArrayList<>();
      boolean locking = false;
      while (!queue.isEmpty()) {
        Pending next = queue.peek();
        if (next.expired) {
          queue.poll();
          continue;
        }
        boolean fits = events.size() + next.events.size() <= settings.maxGroupEvents();
        if (!requests.isEmpty()
            && (!fits || next.solo || requests.get(0).solo || conflictsInFlight(next))) {
          break;
        }
        requests.add(queue.poll());
        next.inGroup = true;
        events.addAll(next.events);
        locking |= next.solo || next.locking;
      }
      Map<String, Long> expected = locking || expectingRests() ? null : expectedHeads(events);
      if (expected == null && (expectingInFlight > 0 || awaitsHeads(events))) {
        // A locking group waits for the expected-heads groups in flight: it could take a shared
        // merchant's row lock before one of them and move the head that group expects. And a
        // group that shares a merchant with a locking group in flight waits for it: it could take
        // that merchant's row lock first and its seqs, while groups finish, answer and tell
        // delivery in the order they started (requests of a failed group run alone, the locking
        // way, two at once). A group of merchants whose heads are about to be told also does not
        // lock again, which would keep them unknown for the group after, and so on.
        for (int i = requests.size() - 1; i >= 0; i--) {
          requests.get(i).inGroup = false;
          queue.addFirst(requests.get(i));
        }
        return;
      }
      start(new Group(requests, events, locking), expected);
    }
  }

  private boolean awaitsHeads(List<NewEvent> events) {
    if (awaitedHeads.isEmpty()) {
      return false;
    }
    for (NewEvent e : events) {
      if (awaitedHeads.containsKey(e.merchantId())) {
        return true;
      }
    }
    return false;
  }

  /** Whether one of the request's event ids is in a group in flight. */
  private boolean conflictsInFlight(Pending p) {
    if (inFlightKeys.isEmpty()) {
      return false;
    }
    for (Key k : p.keys()) {
      if (inFlightKeys.contains(k)) {
        return true;
      }
    }
    return false;
  }

  /** Starts a group: the expected-heads way with {@code expected}, else (null) locking. */
  private void start(Group group, Map<String, Long> expected) {
    inFlight.add(group);
    boolean repeats = false;
    for (Pending p : group.requests) {
      for (Key k : p.keys()) {
        if (inFlightKeys.add(k)) {
          group.keys.add(k);
        } else {
          repeats = true;
        }
      }
    }
    Future<EventLog.Appended> outcome;
    if (expected != null) {
      metrics.expectingGroups.increment();
      EventLog.Plan plan = log.plan(group.events, expected, Instant.now(), repeats);
      knownHeads.putAll(plan.heads());
      group.expecting = true;
      expectingInFlight++;
      writing++;
      Promise<Boolean> atHeads = Promise.promise();
      atHeads
          .future()
          .onComplete(
              ar ->
                  onContext(
                      () -> {
                        writing--;
                        if (!ar.result()) {
                          forgetHeads(group);
                        }
                        flush();
                      }));
      outcome = writers.withConnection(conn -> log.appendExpecting(conn, plan, atHeads));
      outcome.onComplete(ar -> atHeads.tryComplete(ar.succeeded()));
    } else {
      metrics.lockingGroups.increment();
      for (NewEvent e : group.events) {
        knownHeads.remove(e.merchantId());
        awaitedHeads.put(e.merchantId(), group);
      }
      outcome = commit(group.events, 1);
    }
    outcome.onComplete(
        ar ->
            onContext(
                () -> {
                  group.outcome = ar;
                  finishInOrder();
                }));
  }

  /**
   * What this committer believed of a failed group's merchants may be wrong now: their heads are
   * relearnt under lock. Its rollback (if it rolled back) changed no other merchant's head.
   */
  private void forgetHeads(Group group) {
    for (NewEvent e : group.events) {
      knownHeads.remove(e.merchantId());
    }
  }

  private void onContext(Runnable r) {
    if (Vertx.currentContext() == context) {
      r.run();
    } else {
      context.runOnContext(v -> r.run());
    }
  }

  /** Each merchant's expected head, or null if one of them is not known. */
  private Map<String, Long> expectedHeads(List<NewEvent> events) {
    Map<String, Long> expected = new HashMap<>();
    for (NewEvent e : events) {
      String m = e.merchantId();
      if (!expected.containsKey(m)) {
        Long head = knownHeads.get(m);
        if (head == null) {
          return null;
        }
        expected.put(m, head);
      }
    }
    return expected;
  }

  private void finishInOrder() {
    while (!inFlight.isEmpty() && inFlight.peek().outcome != null) {
      finish(inFlight.poll());
    }
    flush();
    completeDrainIfIdle();
  }

  private void finish(Group group) {
    metrics.commit.record(System.nanoTime() - group.started, TimeUnit.NANOSECONDS);
    // one by one: Set.removeAll(List) scans the set and calls List.contains when the set is not
    // larger, which it is not with one group in flight (quadratic: 1.5% of the samples at load)
    for (Key k : group.keys) {
      inFlightKeys.remove(k);
    }
    if (group.expecting) {
      expectingInFlight--;
    }
    var ar = group.outcome;
    List<Pending> requests = group.requests;
    if (!group.expecting) {
      for (NewEvent e : group.events) {
        if (awaitedHeads.get(e.merchantId()) == group) {
          awaitedHeads.remove(e.merchantId());
          if (ar.succeeded()) {
            knownHeads.put(e.merchantId(), ar.result().heads().get(e.merchantId()));
          }
        }
      }
    }
    if (ar.succeeded() && group.expecting) {
      restMs = 0; // heads as expected: no other writer in the way
    }
    if (ar.succeeded()) {
      requests.forEach(this::release);
      requests.forEach(this::cancelDeadline);
      metrics.groupEvents.record(group.events.size());
      metrics.groupRequests.record(requests.size());
      deliver(requests, ar.result().results());
      return;
    }
    forgetHeads(group);
    Throwable cause = ar.cause();
    if (group.expecting && (isRefusal(cause) || isTransient(cause) || isDataError(cause))) {
      // PostgreSQL refused a statement, so the transaction rolled back: run the group again,
      // locking (a data error then runs each request alone). Anything else (the connection lost,
      // the server shutting down) may have come after the commit: answered as uncertain below.
      if (isRefusal(cause)) {
        metrics.replanned.increment();
        restMs = restMs == 0 ? MIN_REST_MS : Math.min(MAX_REST_MS, restMs * 2);
        expectingRestsUntil = System.currentTimeMillis() + restMs;
      }
      requeue(requests, false);
    } else if (requests.size() > 1 && isDataError(ar.cause())) {
      // One request's data made PostgreSQL refuse the whole group: run each alone so only the
      // offender fails.
      requeue(requests, true);
    } else {
      requests.forEach(this::release);
      requests.forEach(this::cancelDeadline);
      metrics.commitFailures.increment();
      Set<String> merchants = new HashSet<>();
      group.events.forEach(e -> merchants.add(e.merchantId()));
      onUncertain.accept(merchants);
      requests.forEach(p -> p.fail(ar.cause()));
    }
  }

  /** Puts a group's requests back at the head of the queue, to run the locking way. */
  private void requeue(List<Pending> requests, boolean solo) {
    for (int i = requests.size() - 1; i >= 0; i--) {
      Pending p = requests.get(i);
      p.inGroup = false;
      if (p.expired) {
        release(p);
      } else {
        p.locking = true;
        p.solo |= solo;
        queue.addFirst(p);
      }
    }
  }

  private Future<EventLog.Appended> commit(List<NewEvent> events, int attempt) {
    return writers
        .withTransaction(tx -> log.appendLocked(tx, events, Instant.now()))
        .recover(
            err -> {
              if (attempt < MAX_ATTEMPTS && isTransient(err)) {
                metrics.commitRetries.increment();
                return commit(events, attempt + 1);
              }
              return Future.failedFuture(err);
            });
  }

  private void deliver(List<Pending> group, List<AppendResult> results) {
    Map<String, List<LoggedEvent>> stored = new HashMap<>();
    for (AppendResult r : results) {
      if (!r.duplicate()) {
        stored
            .computeIfAbsent(r.merchantId(), m -> new ArrayList<>())
            .add(new LoggedEvent(r.seq(), r.json(), r.maskedJson()));
      }
    }
    if (!stored.isEmpty()) {
      onCommitted.accept(stored);
    }
    int offset = 0;
    for (Pending p : group) {
      List<AppendResult> mine = results.subList(offset, offset + p.events.size());
      offset += p.events.size();
      for (AppendResult r : mine) {
        (r.duplicate() ? metrics.duplicates : metrics.stored).increment();
      }
      p.succeed(List.copyOf(mine));
    }
  }

  private void completeDrainIfIdle() {
    if (drained == null) {
      return;
    }
    if (inFlight.isEmpty() && queue.isEmpty()) {
      drained.tryComplete();
    }
  }

  private static boolean isTransient(Throwable err) {
    return err instanceof PgException pg
        && ("40P01".equals(pg.getSqlState()) || "40001".equals(pg.getSqlState()));
  }

  /**
   * A head not where expected, or an event id stored before (the unique key of the partition
   * written, 23505).
   */
  private static boolean isRefusal(Throwable err) {
    return err instanceof PgException pg
        && (EventLog.EXPECTATION_FAILED.equals(pg.getSqlState())
            || "23505".equals(pg.getSqlState()));
  }

  private static boolean isDataError(Throwable err) {
    return err instanceof PgException pg
        && pg.getSqlState() != null
        && (pg.getSqlState().startsWith("22")
            || pg.getSqlState().startsWith("23")
            || pg.getSqlState().startsWith("54"));
  }

  /** An event's identity, its hash computed once. */
  private static final class Key {
    final String merchantId;
    final String eventId;
    final int hash;

    Key(String merchantId, String eventId) {
      this.merchantId = merchantId;
      this.eventId = eventId;
      this.hash = 31 * merchantId.hashCode() + eventId.hashCode();
    }

    @Override
    public int hashCode() {
      return hash;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Key k
          && k.hash == hash
          && k.eventId.equals(eventId)
          && k.merchantId.equals(merchantId);
    }
  }

  /** One transaction's requests. */
  private static final class Group {
    final List<Pending> requests;
    final List<NewEvent> events;
    final boolean locking;
    final List<Key> keys = new ArrayList<>();
    final long started = System.nanoTime();
    boolean expecting;
    AsyncResult<EventLog.Appended> outcome;

    Group(List<Pending> requests, List<NewEvent> events, boolean locking) {
      this.requests = requests;
      this.events = events;
      this.locking = locking;
    }
  }

  private static final class Pending {
    final List<NewEvent> events;
    final Promise<List<AppendResult>> promise;
    final Context caller;
    boolean solo;

    /** To run the locking way (PostgreSQL refused it on the expected-heads path). */
    boolean locking;

    /** In the transaction now running. */
    boolean inGroup;

    /** Answered with a timeout; dropped from the queue when reached. */
    boolean expired;

    /** Its events no longer count as queued. */
    boolean released;

    /** Succeeded or failed: later outcomes are ignored. */
    boolean answered;

    long timer = -1;

    private Key[] keys;

    Pending(List<NewEvent> events, Promise<List<AppendResult>> promise, Context caller) {
      this.events = events;
      this.promise = promise;
      this.caller = caller;
    }

    Key[] keys() {
      if (keys == null) {
        keys = new Key[events.size()];
        for (int i = 0; i < keys.length; i++) {
          keys[i] = new Key(events.get(i).merchantId(), events.get(i).eventId());
        }
      }
      return keys;
    }

    void succeed(List<AppendResult> results) {
      if (answer()) {
        onCaller(() -> promise.complete(results));
      }
    }

    void fail(Throwable cause) {
      if (answer()) {
        onCaller(() -> promise.fail(cause));
      }
    }

    /** Marks it answered, once; the caller cancels its timer. */
    private boolean answer() {
      if (answered) {
        return false;
      }
      answered = true;
      return true;
    }

    private void onCaller(Runnable r) {
      if (caller == null) {
        r.run();
      } else {
        caller.runOnContext(v -> r.run());
      }
    }
  }
}
