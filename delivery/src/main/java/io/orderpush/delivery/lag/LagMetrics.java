package io.orderpush.delivery.lag;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.vertx.core.Vertx;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lag as age, for Prometheus: how long the oldest undelivered event has waited, overall and for the
 * apps furthest behind, sampled from the same stored heads and cursors as {@code GET /v1/lag} (so
 * an app connected nowhere shows its full lag, and every node reports the same figures).
 *
 * <p>Bounded for 10,000 apps: one ranked statement reads the {@link #SAMPLED_CHANNELS} channels
 * furthest behind (by events), and only the {@code topApps} apps with the oldest pending event
 * among them get a labelled series; apps that leave the top lose theirs. Ages are computed at
 * scrape time from the sampled instant, so they grow between samples.
 */
public final class LagMetrics {

  private static final Logger LOG = LoggerFactory.getLogger(LagMetrics.class);

  /** Channels read per sample, furthest behind first (one page of the lag query). */
  static final int SAMPLED_CHANNELS = 1000;

  /** One app's figures from the last sample. */
  record AppLag(UUID appId, String state, Instant oldestPendingAt, long events) {}

  private final LagQuery query;
  private final int topApps;
  private final Clock clock;
  private final MultiGauge ageByApp;
  private final MultiGauge eventsByApp;
  private final Counter failures;
  private final AtomicReference<Optional<Instant>> oldest = new AtomicReference<>(Optional.empty());
  private final AtomicInteger appsBehind = new AtomicInteger();
  private final AtomicBoolean sampling = new AtomicBoolean();

  /**
   * The labelled apps' latest figures, by the tags of their series. The gauges read through these
   * holders, which are updated in place: a series is registered once while its app stays in the top
   * and removed when it leaves. (Re-registering a series under the same tags on every sample raced
   * the scrape, which then failed as a whole with duplicate labels.) Kept here to find a series'
   * holder by its tags.
   */
  private final Map<Tags, AtomicReference<AppLag>> labelled =
      new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * @param topApps apps that get a labelled series at most; 0: none, only the overall figures
   */
  public LagMetrics(LagQuery query, int topApps, MeterRegistry registry, Clock clock) {
    this.query = query;
    this.topApps = topApps;
    this.clock = clock;
    ageByApp =
        MultiGauge.builder("gateway.delivery.lag.seconds")
            .description(
                "Age of the app's oldest undelivered event, for the apps with the oldest ones"
                    + " (metrics.lag-apps), cluster-wide from stored heads and cursors")
            .baseUnit("seconds")
            .register(registry);
    eventsByApp =
        MultiGauge.builder("gateway.delivery.lag.app.events")
            .description(
                "Undelivered events of the app, for the same apps as gateway_delivery_lag_seconds")
            .register(registry);
    Gauge.builder("gateway.delivery.lag.oldest.seconds", this::oldestAge)
        .description(
            "Age of the oldest undelivered event of any app that is not frozen, cluster-wide; 0 when"
                + " none is behind")
        .baseUnit("seconds")
        .register(registry);
    Gauge.builder("gateway.delivery.lag.apps.behind", appsBehind::get)
        .description("Apps with undelivered events at the last sample (labelled or not)")
        .register(registry);
    failures =
        Counter.builder("gateway.delivery.lag.sample.failures")
            .description("Lag samples that failed (PostgreSQL or Redis); the figures are kept")
            .register(registry);
  }

  /** Samples now and every {@code interval}; returns the timer id. */
  public long start(Vertx vertx, Duration interval) {
    return vertx.setPeriodic(0, interval.toMillis(), id -> sample());
  }

  /** One sample; skipped while the previous one runs. */
  void sample() {
    if (!sampling.compareAndSet(false, true)) {
      return;
    }
    query
        .lag(Optional.empty(), Optional.empty(), 1, SAMPLED_CHANNELS, Optional.empty())
        .onSuccess(page -> publish(byApp(page.items())))
        .onFailure(
            err -> {
              failures.increment();
              LOG.warn("lag sample failed, keeping the last figures: {}", err.toString());
            })
        .onComplete(ar -> sampling.set(false));
  }

  /** Per app: its oldest pending time and pending events; oldest first. */
  static List<AppLag> byApp(List<LagQuery.Item> items) {
    Map<UUID, AppLag> apps = new HashMap<>();
    for (LagQuery.Item i : items) {
      Instant at = i.oldestPendingAt().orElse(Instant.MAX);
      apps.merge(
          i.appId(),
          new AppLag(i.appId(), i.state(), at, i.lag()),
          (a, b) ->
              new AppLag(
                  a.appId(),
                  a.state(),
                  a.oldestPendingAt().isBefore(b.oldestPendingAt())
                      ? a.oldestPendingAt()
                      : b.oldestPendingAt(),
                  a.events() + b.events()));
    }
    List<AppLag> out = new ArrayList<>(apps.values());
    out.sort(
        Comparator.comparing(AppLag::oldestPendingAt)
            .thenComparing(Comparator.comparingLong(AppLag::events).reversed())
            .thenComparing(AppLag::appId));
    return out;
  }

  /** Publishes one sample's figures (apps oldest first, as {@link #byApp} returns them). */
  void publish(List<AppLag> apps) {
    appsBehind.set(apps.size());
    oldest.set(
        apps.stream()
            .filter(a -> !"frozen".equals(a.state()))
            .map(AppLag::oldestPendingAt)
            .filter(t -> !t.equals(Instant.MAX))
            .findFirst());
    List<AppLag> top = apps.subList(0, Math.min(topApps, apps.size()));
    Map<Tags, AppLag> current = new HashMap<>();
    for (AppLag a : top) {
      current.put(Tags.of("app", a.appId().toString(), "state", a.state()), a);
    }
    labelled.keySet().retainAll(current.keySet());
    current.forEach(
        (tags, a) -> labelled.computeIfAbsent(tags, t -> new AtomicReference<>()).set(a));
    List<MultiGauge.Row<?>> ages = new ArrayList<>(current.size());
    List<MultiGauge.Row<?>> events = new ArrayList<>(current.size());
    labelled.forEach(
        (tags, holder) -> {
          ages.add(MultiGauge.Row.of(tags, holder, h -> age(h.get())));
          events.add(MultiGauge.Row.of(tags, holder, h -> h.get().events()));
        });
    // not overwritten: a series already there keeps its registration (and its holder); the others
    // are added, and those of apps that left the top removed
    ageByApp.register(ages, false);
    eventsByApp.register(events, false);
  }

  private double age(AppLag a) {
    return a.oldestPendingAt().equals(Instant.MAX) ? 0 : secondsSince(a.oldestPendingAt());
  }

  private double oldestAge() {
    return oldest.get().map(this::secondsSince).orElse(0.0);
  }

  private double secondsSince(Instant t) {
    return Math.max(0, Duration.between(t, clock.instant()).toMillis() / 1000.0);
  }
}
