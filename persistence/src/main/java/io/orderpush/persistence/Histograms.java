package io.orderpush.persistence;

import java.time.Duration;

/**
 * The fixed buckets of the gateway's histograms. Latencies and sizes are published as Prometheus
 * histograms ({@code _bucket{le=...}}, {@code _count}, {@code _sum}) rather than client-side
 * percentiles: buckets add up across nodes and over any window ({@code histogram_quantile(0.99, sum
 * by (le) (rate(x_bucket[5m])))}), a percentile computed on one node cannot be combined with
 * another's. Few buckets, the same everywhere, so a series costs little and dashboards agree.
 */
public final class Histograms {

  /** 1 ms to 60 s, about three buckets a decade. */
  public static final Duration[] LATENCY = {
    Duration.ofMillis(1),
    Duration.ofMillis(2),
    Duration.ofMillis(5),
    Duration.ofMillis(10),
    Duration.ofMillis(20),
    Duration.ofMillis(50),
    Duration.ofMillis(100),
    Duration.ofMillis(200),
    Duration.ofMillis(500),
    Duration.ofSeconds(1),
    Duration.ofSeconds(2),
    Duration.ofSeconds(5),
    Duration.ofSeconds(10),
    Duration.ofSeconds(30),
    Duration.ofSeconds(60)
  };

  /** Counts per batch or group: 1 to 10,000. */
  public static final double[] SIZE = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000
  };

  private Histograms() {}
}
