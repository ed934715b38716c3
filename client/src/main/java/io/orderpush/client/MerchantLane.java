package io.orderpush.client;

import io.orderpush.client.impl.Backoff;
import io.orderpush.client.impl.Json;
import io.orderpush.client.impl.WsSession;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One merchant's batches on a {@link StreamConsumer}: applied one at a time in arrival (seq) order
 * on the shared workers, acknowledged on the connection they came from once applied. Every change
 * of ownership (assigned again, unassigned, connection lost) starts a new generation: queued work
 * of an older one is dropped and a batch of an older one that finishes is not acknowledged.
 */
final class MerchantLane<T> {

  record Context<T>(
      AppliedStore<T> store,
      BatchHandler<T> handler,
      ConsumerListener listener,
      ConsumerOptions options,
      Executor workers,
      ScheduledExecutorService timer) {}

  private record Queued(Batch batch, int generation, WsSession session) {}

  private final Context<T> ctx;
  private final Deque<Queued> queue = new ArrayDeque<>();
  private int generation;
  private WsSession owner;

  /** The number of the assigned message that gave the merchant to {@link #owner}, or 0. */
  private long assignment;

  private boolean running;
  private Object pendingRetry;
  private int failures;

  MerchantLane(Context<T> ctx) {
    this.ctx = ctx;
  }

  /**
   * The merchant is (again) served by {@code session}: from its cursor + 1 on. Acks name {@code
   * assignment} (0: the gateway numbered none), so the gateway can ignore one sent before this.
   */
  synchronized void assign(WsSession session, long assignment) {
    newGeneration();
    owner = session;
    this.assignment = assignment;
  }

  /** The merchant left {@code session} (null: whichever holds it). */
  synchronized void release(WsSession session) {
    if (session == null || owner == session) {
      newGeneration();
      owner = null;
    }
  }

  synchronized boolean heldBy(WsSession session) {
    return owner != null && owner == session;
  }

  /** Queues a batch that arrived on {@code session}; false if the merchant is not held there. */
  boolean offer(WsSession session, Batch batch) {
    synchronized (this) {
      if (owner == null || owner != session) {
        return false;
      }
      queue.add(new Queued(batch, generation, session));
      if (running) {
        return true;
      }
      running = true;
    }
    submit();
    return true;
  }

  private void submit() {
    try {
      ctx.workers().execute(this::drain);
    } catch (RejectedExecutionException closed) {
      synchronized (this) {
        running = false;
        notifyAll();
      }
    }
  }

  /** Drops queued work (the consumer is closing); a batch being applied finishes and is acked. */
  synchronized void stop() {
    queue.clear();
    cancelRetry();
  }

  /** Waits until no batch is being applied; false if {@code deadlineNanos} passed first. */
  synchronized boolean awaitIdle(long deadlineNanos) throws InterruptedException {
    while (running) {
      long left = deadlineNanos - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
    return true;
  }

  private void newGeneration() {
    generation++;
    queue.clear();
    failures = 0;
    cancelRetry();
  }

  private void cancelRetry() {
    if (pendingRetry != null) {
      pendingRetry = null;
      running = false;
      notifyAll();
    }
  }

  private void drain() {
    while (true) {
      Queued q;
      synchronized (this) {
        q = queue.peek();
        while (q != null && q.generation != generation) {
          queue.poll();
          q = queue.peek();
        }
        if (q == null) {
          running = false;
          notifyAll();
          return;
        }
      }
      try {
        ctx.store().applyOnce(q.batch, ctx.handler());
      } catch (Exception e) {
        retryLater(q, e);
        return;
      } catch (VirtualMachineError e) {
        throw e;
      } catch (Throwable e) { // an AssertionError, say: the batch is not applied, try again
        retryLater(q, new OrderPushException("the handler threw " + e, e));
        return;
      }
      boolean current;
      long assignedIn;
      synchronized (this) {
        if (queue.peek() == q) {
          queue.poll();
        }
        failures = 0;
        current = q.generation == generation && owner == q.session;
        assignedIn = assignment;
      }
      if (current) {
        String m = q.batch.merchantId();
        long seq = q.batch.lastSeq();
        q.session.send(Json.ack(m, seq, assignedIn));
        ctx.listener().acked(m, seq);
      }
    }
  }

  private void retryLater(Queued q, Exception error) {
    Duration delay;
    Object token = new Object();
    synchronized (this) {
      if (q.generation != generation) {
        // moved away meanwhile: nothing to retry here; go on with what the new owner queued
        submit();
        return;
      }
      delay = Backoff.delay(ctx.options().retryBackoff(), ctx.options().maxBackoff(), failures++);
      pendingRetry = token;
    }
    ctx.listener().batchFailed(q.batch, error, delay);
    try {
      ctx.timer()
          .schedule(
              () -> {
                synchronized (this) {
                  if (pendingRetry != token) {
                    return;
                  }
                  pendingRetry = null;
                }
                submit();
              },
              delay.toMillis(),
              TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closed) {
      synchronized (this) {
        if (pendingRetry == token) {
          cancelRetry();
        }
      }
    }
  }
}
