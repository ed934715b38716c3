package io.orderpush.gateway.replay;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.gateway.http.ApiException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Bounds the replays running at once, in all and per app, so one app replaying millions of events
 * takes a fair share of the replay pool and never the delivery pool. Past a bound a replay is
 * refused at once (429 for the app's own limit, 503 for the node's) instead of queued. Thread-safe.
 */
final class ReplayAdmission {

  private final int maxTotal;
  private final int maxPerApp;
  private final AtomicInteger running = new AtomicInteger();
  private final Map<UUID, Integer> perApp = new HashMap<>();
  private final Counter refusedApp;
  private final Counter refusedNode;

  ReplayAdmission(int maxTotal, int maxPerApp, MeterRegistry registry) {
    this.maxTotal = maxTotal;
    this.maxPerApp = maxPerApp;
    Gauge.builder("gateway.replay.running", running::get)
        .description("Replay responses being streamed")
        .register(registry);
    refusedApp =
        Counter.builder("gateway.replay.refused")
            .tag("limit", "app")
            .description("Replays refused because a limit on replays at once was reached")
            .register(registry);
    refusedNode =
        Counter.builder("gateway.replay.refused")
            .tag("limit", "node")
            .description("Replays refused because a limit on replays at once was reached")
            .register(registry);
  }

  /** Admits a replay of {@code appId}; run the returned release exactly when it ends. */
  synchronized Runnable admit(UUID appId) {
    int mine = perApp.getOrDefault(appId, 0);
    if (mine >= maxPerApp) {
      refusedApp.increment();
      throw new ApiException(
          429,
          "too_many_replays",
          "this app has " + maxPerApp + " replays running, the most it may; retry when one ends",
          List.of(Map.of("maxConcurrentPerApp", maxPerApp)));
    }
    if (running.get() >= maxTotal) {
      refusedNode.increment();
      throw new ApiException(
          503, "overloaded", "this gateway runs " + maxTotal + " replays already; retry later");
    }
    perApp.put(appId, mine + 1);
    running.incrementAndGet();
    AtomicBoolean done = new AtomicBoolean();
    return () -> {
      if (done.compareAndSet(false, true)) {
        release(appId);
      }
    };
  }

  private synchronized void release(UUID appId) {
    running.decrementAndGet();
    perApp.computeIfPresent(appId, (k, n) -> n == 1 ? null : n - 1);
  }
}
