package io.orderpush.delivery.cursor;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Coalesces cursor commits: the acks handled in one run of the context's task queue go to Redis
 * together ({@link CursorStore#commitAll}), and several acks of one channel under one epoch become
 * one commit of the highest. Nothing waits on a timer: the flush is the next task of the context,
 * so a lone ack goes out at once, and under load every ack queued meanwhile joins it. Each commit
 * stays fenced by its own epoch, and a cursor still only moves forward, so coalescing changes how
 * many calls carry the acks, never what they store. One context only (the delivery engine's).
 */
public final class CursorCommits {

  private final CursorStore store;
  private final Context context;
  private final Counter calls;
  private final DistributionSummary batch;

  /** Waiting for the next flush, by channel and epoch, in arrival order. */
  private Map<Key, Waiting> waiting = new LinkedHashMap<>();

  private boolean flushQueued;

  private record Key(UUID appId, String merchantId, long epoch) {}

  /** The highest ack of one channel and epoch so far, and everyone waiting on its commit. */
  private static final class Waiting {
    long seq;
    long prev;
    final List<Promise<CommitOutcome>> promises = new ArrayList<>(1);
  }

  public CursorCommits(CursorStore store, Context context, MeterRegistry registry) {
    this.store = store;
    this.context = context;
    this.calls =
        Counter.builder("gateway.cursor.commit.flushes")
            .description(
                "Flushes of acked cursors to Redis, each carrying the acks handled since the last")
            .register(registry);
    this.batch =
        DistributionSummary.builder("gateway.cursor.commit.channels")
            .description("Channels whose cursors one flush stored (coalesced acks)")
            .serviceLevelObjectives(1, 2, 4, 8, 16, 32, 64, 128, 256)
            .register(registry);
  }

  /**
   * {@link CursorStore#commit}, coalesced: completes on the context with the outcome of the commit
   * that carried this ack (for acks merged into a higher one of the same channel and epoch, that
   * one's). Context only.
   */
  public Future<CommitOutcome> commit(
      UUID appId, String merchantId, long epoch, long seq, long prev) {
    Waiting w = waiting.computeIfAbsent(new Key(appId, merchantId, epoch), k -> new Waiting());
    if (w.promises.isEmpty() || seq > w.seq) {
      w.seq = seq;
      w.prev = prev;
    }
    Promise<CommitOutcome> p = Promise.promise();
    w.promises.add(p);
    if (!flushQueued) {
      flushQueued = true;
      context.runOnContext(
          v -> {
            if (flushQueued) {
              flush();
            }
          });
    }
    return p.future();
  }

  /**
   * Sends the waiting commits now rather than at the queued flush. The engine calls it before any
   * other change to a channel's hash (a claim, a release), so Redis applies an ack before a change
   * that came after it, as when every ack was its own call: a release must not let another node
   * claim from a cursor that an ack handled before the release has not reached yet. Context only.
   */
  public void flush() {
    flushQueued = false;
    if (waiting.isEmpty()) {
      return;
    }
    Map<Key, Waiting> now = waiting;
    waiting = new LinkedHashMap<>();
    List<CursorStore.Commit> commits = new ArrayList<>(now.size());
    List<Waiting> of = new ArrayList<>(now.size());
    now.forEach(
        (k, w) -> {
          commits.add(new CursorStore.Commit(k.appId(), k.merchantId(), k.epoch(), w.seq, w.prev));
          of.add(w);
        });
    calls.increment();
    batch.record(commits.size());
    store
        .commitAll(context, commits)
        .onComplete(
            ar -> {
              for (int i = 0; i < of.size(); i++) {
                for (Promise<CommitOutcome> p : of.get(i).promises) {
                  if (ar.succeeded()) {
                    p.complete(ar.result().get(i));
                  } else {
                    p.fail(ar.cause());
                  }
                }
              }
            });
  }
}
