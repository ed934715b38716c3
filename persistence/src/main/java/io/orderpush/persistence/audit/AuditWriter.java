package io.orderpush.persistence.audit;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import io.vertx.pgclient.PgException;
import io.vertx.sqlclient.Pool;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes audit records off the delivery path, in groups: {@link #record} only queues (any thread,
 * never blocks); this verticle's own context writes what is queued every {@code flushInterval}, or
 * as soon as {@code flushRows} are waiting, as one multi-row INSERT on its own pool, one INSERT at
 * a time.
 *
 * <p>Bounded: at most {@code bufferRows} records are held (queued plus the group being written).
 * From nine tenths of that on, {@link #admitting} is false and delivery and replay wait, so a
 * PostgreSQL outage or a slow trail holds deliveries back rather than losing their records. Past
 * the bound (the batches already being read, callback answers and replays in flight when delivery
 * started to wait, beyond the tenth kept for them), new records are dropped and counted ({@code
 * gateway.audit.rows.dropped{reason= buffer_full}}), so memory stays bounded whatever happens. A
 * group whose write failed is kept and written again first. A group PostgreSQL refuses outright (a
 * day without a partition) is written again in halves, down to single records, so only the records
 * it refuses are dropped and counted. {@link #stop} writes what is left, within {@code
 * shutdownTimeout}.
 */
public final class AuditWriter extends VerticleBase implements AuditLog {

  private static final Logger LOG = LoggerFactory.getLogger(AuditWriter.class);

  /**
   * @param bufferRows records held at most
   * @param flushRows records per INSERT at most; a flush starts early once this many wait
   * @param flushInterval how often what is queued is written
   * @param shutdownTimeout how long the final flush may take
   */
  public record Settings(
      int bufferRows, int flushRows, Duration flushInterval, Duration shutdownTimeout) {}

  private final Pool pool;
  private final AuditStore store;
  private final Settings settings;
  private final AuditMetrics metrics;
  private final ConcurrentLinkedQueue<AuditRecord> queue = new ConcurrentLinkedQueue<>();

  /** Records held: queued, plus the group being written or waiting to be written again. */
  private final AtomicInteger held = new AtomicInteger();

  /**
   * Groups whose write failed, or halves of one PostgreSQL refused: written again before anything
   * newer, in order. Own context only.
   */
  private final ArrayDeque<List<AuditRecord>> retry = new ArrayDeque<>();

  private boolean writing;
  private long lastRefusalLogged;
  private long timer = -1;
  private long failingSince;

  public AuditWriter(Pool pool, AuditStore store, Settings settings, MeterRegistry registry) {
    this.pool = pool;
    this.store = store;
    this.settings = settings;
    this.metrics = new AuditMetrics(registry, held::get);
  }

  @Override
  public boolean admitting() {
    return held.get() < mark();
  }

  /** From this many records held on, delivery waits ({@link #admitting}). */
  private int mark() {
    int bound = settings.bufferRows();
    return bound - Math.max(1, bound / 10);
  }

  @Override
  public void record(AuditRecord r) {
    int n = held.incrementAndGet();
    if (n > settings.bufferRows()) {
      held.decrementAndGet();
      metrics.droppedFull.increment();
      return;
    }
    queue.offer(r);
    // early, at a group's worth, or at the mark when that comes first (delivery waits there)
    if (n == Math.min(settings.flushRows(), mark()) && context != null) {
      context.runOnContext(v -> flush());
    }
  }

  @Override
  public Future<?> start() {
    long every = settings.flushInterval().toMillis();
    timer = vertx.setPeriodic(every, every, id -> flush());
    return Future.succeededFuture();
  }

  /** Writes everything still held, then stops; what is left at the timeout is counted as lost. */
  @Override
  public Future<?> stop() {
    vertx.cancelTimer(timer);
    Promise<Void> done = Promise.promise();
    long deadline = System.nanoTime() + settings.shutdownTimeout().toNanos();
    drain(done, deadline);
    return done.future()
        .timeout(settings.shutdownTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS)
        .otherwiseEmpty()
        .onComplete(
            v -> {
              int lost = held.getAndSet(0);
              if (lost > 0) {
                metrics.droppedShutdown.increment(lost);
                LOG.warn("audit: {} records could not be written before shutdown", lost);
              }
            });
  }

  private void drain(Promise<Void> done, long deadline) {
    if (held.get() == 0 || System.nanoTime() > deadline) {
      done.tryComplete();
    } else if (writing) {
      vertx.setTimer(10, t -> drain(done, deadline));
    } else {
      write()
          .onComplete(ar -> vertx.setTimer(ar.succeeded() ? 1 : 100, t -> drain(done, deadline)));
    }
  }

  private void flush() {
    if (!writing) {
      write()
          .onSuccess(
              wrote -> {
                if (wrote && (!retry.isEmpty() || queue.size() >= settings.flushRows())) {
                  flush(); // a backlog, or halves of a refused group: keep writing
                }
              });
    }
  }

  /**
   * Writes one group; true if one was written, split or dropped as refused (so the writer goes on
   * at once), false if there was none. Own context only.
   */
  private Future<Boolean> write() {
    List<AuditRecord> group = retry.isEmpty() ? take() : retry.poll();
    if (group.isEmpty()) {
      return Future.succeededFuture(false);
    }
    writing = true;
    long started = System.nanoTime();
    return store
        .insert(pool, group)
        .map(
            v -> {
              writing = false;
              metrics.flush.record(System.nanoTime() - started, TimeUnit.NANOSECONDS);
              metrics.written.increment(group.size());
              held.addAndGet(-group.size());
              if (failingSince != 0) {
                LOG.info(
                    "audit: writing again after {} ms of failures",
                    System.currentTimeMillis() - failingSince);
                failingSince = 0;
              }
              return true;
            })
        .recover(
            err -> {
              writing = false;
              if (refused(err) && group.size() > 1) {
                // one record, or one day without a partition, must not cost the others
                int half = group.size() / 2;
                retry.addFirst(List.copyOf(group.subList(half, group.size())));
                retry.addFirst(List.copyOf(group.subList(0, half)));
                return Future.succeededFuture(true);
              } else if (refused(err)) {
                held.decrementAndGet();
                metrics.droppedRejected.increment();
                long now = System.currentTimeMillis();
                if (now - lastRefusalLogged >= 1000) { // a day without a partition refuses all
                  lastRefusalLogged = now;
                  LOG.error(
                      "audit: PostgreSQL refused a record (more are counted in"
                          + " gateway_audit_rows_dropped_total{reason=\"rejected\"}): {}",
                      err.toString());
                }
                return Future.succeededFuture(true); // handled: write on, not at the next tick
              } else {
                retry.addFirst(group);
                metrics.flushFailures.increment();
                if (failingSince == 0) {
                  failingSince = System.currentTimeMillis();
                  LOG.warn(
                      "audit: writing {} records failed, retrying; up to {} are kept, newer ones"
                          + " are dropped past that: {}",
                      group.size(),
                      settings.bufferRows(),
                      err.toString());
                }
              }
              return Future.failedFuture(err);
            });
  }

  private List<AuditRecord> take() {
    List<AuditRecord> group = new ArrayList<>(Math.min(settings.flushRows(), 1024));
    AuditRecord r;
    while (group.size() < settings.flushRows() && (r = queue.poll()) != null) {
      group.add(r);
    }
    return group;
  }

  /**
   * Data the table will never take (class 22 data exception, 23 integrity: a day without a
   * partition raises 23514); retrying it would block every later record.
   */
  private static boolean refused(Throwable err) {
    return err instanceof PgException pg
        && pg.getSqlState() != null
        && (pg.getSqlState().startsWith("22") || pg.getSqlState().startsWith("23"));
  }

  /** Records held now (tests, operators). */
  public int buffered() {
    return held.get();
  }
}
