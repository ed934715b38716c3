package io.orderpush.gateway.drill;

import io.orderpush.delivery.channel.DeliveryProbe;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What this node sees of the apps under a drill, per second, written to {@code drill_samples} every
 * second: every node runs one, since a drilled app's channels and connections may be on any node.
 * Which apps to watch comes from the running drills in PostgreSQL, read every second.
 */
public final class DrillProbe implements DeliveryProbe {

  private static final Logger LOG = LoggerFactory.getLogger(DrillProbe.class);

  static final long FLUSH_MS = 1000;

  /** Seconds kept per drill while PostgreSQL does not take them, at most (then dropped). */
  static final int MAX_PENDING_SECONDS = 600;

  private final Vertx vertx;
  private final DrillStore store;
  private final String nodeId;

  /** The apps to watch, with their drill; replaced whole, read on every batch sent. */
  private volatile Map<UUID, DrillStore.Running> watched = Map.of();

  /** Per drill, per second: what this node saw. Guarded by this. */
  private final Map<String, TreeMap<Integer, Acc>> pending = new HashMap<>();

  private long timer = -1;
  // set on the timer's context, cleared where the last write completes
  private volatile boolean flushing;

  private final io.micrometer.core.instrument.Counter writeFailures;

  public DrillProbe(
      Vertx vertx,
      DrillStore store,
      String nodeId,
      io.micrometer.core.instrument.MeterRegistry registry) {
    this.vertx = vertx;
    this.store = store;
    this.nodeId = nodeId;
    this.writeFailures =
        io.micrometer.core.instrument.Counter.builder("gateway.drill.sample.write.failures")
            .description("Writes of a node's per-second drill samples that failed (retried)")
            .register(registry);
    io.micrometer.core.instrument.Gauge.builder(
            "gateway.drills.watched", this, p -> p.watched.size())
        .description("Apps under a running drill, as this node last read them")
        .register(registry);
  }

  /** One second of one drill on this node. */
  static final class Acc {
    long acked;
    final LatencyBuckets sandbox = new LatencyBuckets();
    final LatencyBuckets real = new LatencyBuckets();
    final Map<String, Long> statuses = new TreeMap<>();
    long retries;
    long connections;
    long ackTimeouts;

    DrillSecond toSecond(int t) {
      return new DrillSecond(
          t, "", 0, 0, acked, sandbox, real, statuses, retries, connections, ackTimeouts);
    }
  }

  public void start() {
    timer = vertx.setPeriodic(FLUSH_MS, FLUSH_MS, t -> flush(false));
  }

  /** Writes what is left and stops. */
  public Future<Void> stop() {
    vertx.cancelTimer(timer);
    return flush(true);
  }

  @Override
  public boolean watches(UUID appId) {
    return watched.containsKey(appId);
  }

  /** Starts watching at once (the node that starts a drill need not wait for the next read). */
  void watch(DrillStore.Running drill) {
    Map<UUID, DrillStore.Running> next = new HashMap<>(watched);
    next.put(drill.appId(), drill);
    watched = Map.copyOf(next);
  }

  private synchronized Acc acc(UUID appId, long nowMs) {
    DrillStore.Running d = watched.get(appId);
    if (d == null) {
      return null;
    }
    int t = (int) Math.max(0, (nowMs - d.startedAtMs()) / 1000);
    return pending
        .computeIfAbsent(d.drillId(), k -> new TreeMap<>())
        .computeIfAbsent(t, k -> new Acc());
  }

  @Override
  public void acked(
      UUID appId, String merchantId, long events, long committedAtMs, long ackedAtMs) {
    DrillStore.Running d = watched.get(appId);
    if (d == null) {
      return;
    }
    boolean sandbox = merchantId.startsWith(DrillStore.prefix(d.drillId()));
    synchronized (this) {
      Acc a = acc(appId, ackedAtMs);
      if (a == null) {
        return;
      }
      double ms = Math.max(0, ackedAtMs - committedAtMs);
      if (sandbox) {
        a.acked += events;
        a.sandbox.add(ms, events);
      } else if (!merchantId.startsWith(io.orderpush.delivery.channel.Channel.SANDBOX_PREFIX)) {
        a.real.add(ms, events);
      }
    }
  }

  @Override
  public void callbackAnswered(
      UUID appId, String merchantId, int status, boolean timeout, int attempt) {
    DrillStore.Running d = watched.get(appId);
    if (d == null || !merchantId.startsWith(DrillStore.prefix(d.drillId()))) {
      return;
    }
    String kind = status == 0 ? (timeout ? "timeout" : "error") : (status / 100) + "xx";
    synchronized (this) {
      Acc a = acc(appId, System.currentTimeMillis());
      if (a != null) {
        a.statuses.merge(kind, 1L, Long::sum);
        if (attempt > 1) {
          a.retries++;
        }
      }
    }
  }

  @Override
  public synchronized void connectionOpened(UUID appId) {
    Acc a = acc(appId, System.currentTimeMillis());
    if (a != null) {
      a.connections++;
    }
  }

  @Override
  public synchronized void ackTimedOut(UUID appId) {
    Acc a = acc(appId, System.currentTimeMillis());
    if (a != null) {
      a.ackTimeouts++;
    }
  }

  /**
   * Writes the seconds that are over (all of them when {@code all}), then re-reads which drills
   * run. A write that fails is retried with the next flush; what piles up is bounded.
   */
  Future<Void> flush(boolean all) {
    if (flushing) {
      return Future.succeededFuture();
    }
    flushing = true;
    long now = System.currentTimeMillis();
    Map<String, List<DrillSecond>> due = new HashMap<>();
    synchronized (this) {
      for (var e : pending.entrySet()) {
        DrillStore.Running d = runningById(e.getKey());
        int current = d == null ? Integer.MAX_VALUE : (int) ((now - d.startedAtMs()) / 1000);
        List<DrillSecond> out = new ArrayList<>();
        var it = e.getValue().entrySet().iterator();
        while (it.hasNext()) {
          var s = it.next();
          if (all || s.getKey() < current) {
            out.add(s.getValue().toSecond(s.getKey()));
            it.remove();
          }
        }
        if (!out.isEmpty()) {
          due.put(e.getKey(), out);
        }
      }
      pending.values().removeIf(Map::isEmpty);
    }
    List<Future<Void>> writes = new ArrayList<>();
    due.forEach(
        (drill, seconds) ->
            writes.add(
                store
                    .writeSamples(drill, nodeId, seconds)
                    .recover(
                        err -> {
                          LOG.warn(
                              "could not store samples of drill {}: {}", drill, err.toString());
                          requeue(drill, seconds);
                          return Future.succeededFuture();
                        })));
    return Future.join(writes)
        .transform(v -> store.running())
        .map(
            running -> {
              Map<UUID, DrillStore.Running> next = new HashMap<>();
              running.forEach(r -> next.put(r.appId(), r));
              watched = Map.copyOf(next);
              return (Void) null;
            })
        .recover(err -> Future.succeededFuture())
        .onComplete(v -> flushing = false);
  }

  private DrillStore.Running runningById(String drillId) {
    for (DrillStore.Running r : watched.values()) {
      if (r.drillId().equals(drillId)) {
        return r;
      }
    }
    return null;
  }

  private synchronized void requeue(String drill, List<DrillSecond> seconds) {
    TreeMap<Integer, Acc> m = pending.computeIfAbsent(drill, k -> new TreeMap<>());
    for (DrillSecond s : seconds) {
      if (m.size() >= MAX_PENDING_SECONDS) {
        break;
      }
      Acc a = m.computeIfAbsent(s.t(), k -> new Acc());
      a.acked += s.acked();
      a.sandbox.add(s.sandboxLatency());
      a.real.add(s.realLatency());
      s.statuses().forEach((k, v) -> a.statuses.merge(k, v, Long::sum));
      a.retries += s.retries();
      a.connections += s.connections();
      a.ackTimeouts += s.ackTimeouts();
    }
  }
}
