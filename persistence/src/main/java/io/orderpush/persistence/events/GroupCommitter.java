package io.orderpush.persistence.events;

import io.micrometer.core.instrument.MeterRegistry;
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
 * Groups concurrent ingest requests into shared transactions.
 *
 * <p>Requests go to one of {@code lanes} lanes by their first merchant, so a hot merchant's
 * requests gather in one lane and commit together instead of queueing on its row lock from every
 * lane; each lane runs one transaction at a time on its own connection. All state lives on one
 * Vert.x context, so nothing here needs a lock. The queue is bounded: past {@code maxQueuedEvents}
 * a request is refused with {@link IngestOverloadedException} rather than buffered. Every request
 * is answered within {@code answerWithin}: one still waiting then fails with {@link
 * IngestTimeoutException}, whether it is queued behind a commit that PostgreSQL does not answer or
 * in it (the connection itself is cut by the pool's read-idle timeout, see {@code PgPools}).
 */
public final class GroupCommitter {

  /**
   * @param lanes concurrent transactions (and writer connections)
   * @param maxGroupEvents events one transaction takes at most (a larger request still goes alone)
   * @param maxQueuedEvents events waiting across all lanes before requests are refused
   * @param answerWithin longest a request waits for its commit before it fails with {@link
   *     IngestTimeoutException}; zero for no limit
   */
  public record Settings(
      int lanes, int maxGroupEvents, int maxQueuedEvents, Duration answerWithin) {

    /** Settings without an answer deadline. */
    public Settings(int lanes, int maxGroupEvents, int maxQueuedEvents) {
      this(lanes, maxGroupEvents, maxQueuedEvents, Duration.ZERO);
    }
  }

  private static final int MAX_ATTEMPTS = 3;

  private final Context context;
  private final Vertx vertx;
  private final Pool writers;
  private final EventLog log;
  private final Settings settings;
  private final IngestMetrics metrics;
  private final Lane[] lanes;
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
    this.lanes = new Lane[settings.lanes()];
    for (int i = 0; i < lanes.length; i++) {
      lanes[i] = new Lane();
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
    Lane lane = lanes[Math.floorMod(p.events.get(0).merchantId().hashCode(), lanes.length)];
    lane.queue.add(p);
    flush(lane);
  }

  /**
   * Answers a request whose commit has not been confirmed in time. A queued request leaves the
   * queue (lazily, in {@link #flush}); one in a running transaction is answered now, and the
   * transaction's outcome, whatever it is, no longer reaches it.
   */
  private void expire(Pending p) {
    p.timer = -1;
    if (p.answered) {
      return;
    }
    p.expired = true;
    if (!p.inGroup) {
      release(p);
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

  private void flush(Lane lane) {
    if (lane.busy) {
      return;
    }
    while (!lane.queue.isEmpty() && lane.queue.peek().expired) {
      lane.queue.poll();
    }
    if (lane.queue.isEmpty()) {
      return;
    }
    lane.busy = true;
    List<Pending> group = new ArrayList<>();
    List<NewEvent> events = new ArrayList<>();
    while (!lane.queue.isEmpty()) {
      Pending next = lane.queue.peek();
      if (next.expired) {
        lane.queue.poll();
        continue;
      }
      boolean fits = events.size() + next.events.size() <= settings.maxGroupEvents();
      if (!group.isEmpty() && (!fits || next.solo || group.get(0).solo)) {
        break;
      }
      group.add(lane.queue.poll());
      next.inGroup = true;
      events.addAll(next.events);
    }
    long started = System.nanoTime();
    commit(events, 1)
        .onComplete(
            ar -> {
              metrics.commit.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
              lane.busy = false;
              if (ar.succeeded()) {
                group.forEach(this::release);
                group.forEach(this::cancelDeadline);
                metrics.groupEvents.record(events.size());
                metrics.groupRequests.record(group.size());
                deliver(group, ar.result());
              } else if (group.size() > 1 && isDataError(ar.cause())) {
                // One request's data made PostgreSQL refuse the whole group: run each alone so
                // only the offender fails.
                for (int i = group.size() - 1; i >= 0; i--) {
                  Pending p = group.get(i);
                  p.inGroup = false;
                  if (p.expired) {
                    release(p);
                  } else {
                    p.solo = true;
                    lane.queue.addFirst(p);
                  }
                }
              } else {
                group.forEach(this::release);
                group.forEach(this::cancelDeadline);
                metrics.commitFailures.increment();
                Set<String> merchants = new HashSet<>();
                events.forEach(e -> merchants.add(e.merchantId()));
                onUncertain.accept(merchants);
                group.forEach(p -> p.fail(ar.cause()));
              }
              flush(lane);
              completeDrainIfIdle();
            });
  }

  private Future<List<AppendResult>> commit(List<NewEvent> events, int attempt) {
    return writers
        .withTransaction(tx -> log.append(tx, events, Instant.now()))
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
    for (Lane lane : lanes) {
      if (lane.busy || !lane.queue.isEmpty()) {
        return;
      }
    }
    drained.tryComplete();
  }

  private static boolean isTransient(Throwable err) {
    return err instanceof PgException pg
        && ("40P01".equals(pg.getSqlState()) || "40001".equals(pg.getSqlState()));
  }

  private static boolean isDataError(Throwable err) {
    return err instanceof PgException pg
        && pg.getSqlState() != null
        && (pg.getSqlState().startsWith("22")
            || pg.getSqlState().startsWith("23")
            || pg.getSqlState().startsWith("54"));
  }

  private static final class Lane {
    final ArrayDeque<Pending> queue = new ArrayDeque<>();
    boolean busy;
  }

  private static final class Pending {
    final List<NewEvent> events;
    final Promise<List<AppendResult>> promise;
    final Context caller;
    boolean solo;

    /** In the transaction now running. */
    boolean inGroup;

    /** Answered with a timeout; dropped from the queue when reached. */
    boolean expired;

    /** Its events no longer count as queued. */
    boolean released;

    /** Succeeded or failed: later outcomes are ignored. */
    boolean answered;

    long timer = -1;

    Pending(List<NewEvent> events, Promise<List<AppendResult>> promise, Context caller) {
      this.events = events;
      this.promise = promise;
      this.caller = caller;
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
