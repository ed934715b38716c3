package io.orderpush.delivery.lag;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class LagMetricsTest {

  static final Instant NOW = Instant.parse("2026-12-01T12:00:00Z");
  static final UUID A = UUID.fromString("00000000-0000-0000-0000-00000000000a");
  static final UUID B = UUID.fromString("00000000-0000-0000-0000-00000000000b");

  final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  final LagMetrics metrics = new LagMetrics(null, 1, registry, Clock.fixed(NOW, ZoneOffset.UTC));

  static LagMetrics.AppLag app(UUID id, String state, int secondsAgo, long events) {
    return new LagMetrics.AppLag(id, state, NOW.minusSeconds(secondsAgo), events);
  }

  @Test
  void shouldKeepEveryScrapeWholeWhileTheSameAppIsPublishedAgainAndAgain() throws Exception {
    // The labelled app stays the same sample after sample, as in production; scrapes run on another
    // thread (as on the HTTP event loops) while samples are published, until enough overlapped.
    metrics.publish(List.of(app(A, "active", 10, 0)));
    String series = "gateway_delivery_lag_app_events{app=\"" + A + "\"";
    AtomicBoolean done = new AtomicBoolean();
    java.util.concurrent.atomic.AtomicInteger scrapes =
        new java.util.concurrent.atomic.AtomicInteger();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    Thread scraper =
        new Thread(
            () -> {
              while (!done.get()) {
                try {
                  assertThat(registry.scrape())
                      .contains("gateway_delivery_lag_apps_behind")
                      .contains(series);
                  scrapes.incrementAndGet();
                } catch (Throwable t) {
                  failures.add(t);
                }
              }
            });
    scraper.start();
    try {
      long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
      for (int i = 0;
          scrapes.get() < 500 && failures.isEmpty() && System.nanoTime() < deadline;
          i++) {
        metrics.publish(List.of(app(A, "active", 10, i), app(B, "active", 5, 1)));
      }
    } finally {
      done.set(true);
      scraper.join();
    }
    assertThat(failures).as("scrapes that failed or lacked the lag").isEmpty();
    assertThat(scrapes.get())
        .as("scrapes while samples were published")
        .isGreaterThanOrEqualTo(500);
  }

  @Test
  void shouldMoveAnAppsSeriesToItsNewState() {
    metrics.publish(List.of(app(A, "active", 10, 7)));
    metrics.publish(List.of(app(A, "failing", 11, 8)));
    assertThat(registry.scrape())
        .contains("gateway_delivery_lag_app_events{app=\"" + A + "\",state=\"failing\"} 8.0")
        .contains("gateway_delivery_lag_seconds{app=\"" + A + "\",state=\"failing\"} 11.0")
        .doesNotContain("state=\"active\"");

    metrics.publish(List.of(app(B, "active", 3, 1)));
    metrics.publish(List.of(app(A, "active", 4, 2)));
    assertThat(registry.scrape())
        .as("an app back in the top reads its new figures")
        .contains("gateway_delivery_lag_app_events{app=\"" + A + "\",state=\"active\"} 2.0")
        .doesNotContain(B.toString())
        .doesNotContain("failing");
  }

  @Test
  void shouldReadEachSamplesFiguresAndDropTheAppsThatLeftTheTop() {
    metrics.publish(List.of(app(A, "active", 10, 7), app(B, "active", 5, 3)));
    assertThat(registry.scrape())
        .contains("gateway_delivery_lag_app_events{app=\"" + A + "\",state=\"active\"} 7.0")
        .contains("gateway_delivery_lag_seconds{app=\"" + A + "\",state=\"active\"} 10.0")
        .contains("gateway_delivery_lag_apps_behind 2.0")
        .doesNotContain(B.toString());

    metrics.publish(List.of(app(A, "active", 12, 9), app(B, "active", 5, 3)));
    assertThat(registry.scrape())
        .as("the same series, the new sample's figures")
        .contains("gateway_delivery_lag_app_events{app=\"" + A + "\",state=\"active\"} 9.0")
        .contains("gateway_delivery_lag_seconds{app=\"" + A + "\",state=\"active\"} 12.0");

    metrics.publish(List.of(app(B, "failing", 20, 4)));
    assertThat(registry.scrape())
        .contains("gateway_delivery_lag_app_events{app=\"" + B + "\",state=\"failing\"} 4.0")
        .contains("gateway_delivery_lag_apps_behind 1.0")
        .doesNotContain(A.toString());

    metrics.publish(List.of());
    assertThat(registry.scrape())
        .doesNotContain("gateway_delivery_lag_app_events{")
        .doesNotContain("gateway_delivery_lag_seconds{")
        .contains("gateway_delivery_lag_apps_behind 0.0");
  }
}
