package io.orderpush.gateway.drill;

import io.vertx.core.json.JsonObject;
import java.util.Arrays;

/**
 * A latency histogram for app drills that adds up across nodes and seconds: bucket {@code i} holds
 * latencies in [{@code 1.1^(i-1)}, {@code 1.1^i}) ms (bucket 0: below 1 ms), so any quantile is
 * known within 10%. Stored sparse in JSON ({@code {"17": 40, ...}}). Not thread-safe.
 */
public final class LatencyBuckets {

  /** Up to 1.1^200 ms, about 5.8 hours: anything slower lands in the last bucket. */
  static final int BUCKETS = 201;

  private static final double LOG_BASE = Math.log(1.1);

  private final long[] counts = new long[BUCKETS];
  private long total;

  /** Records {@code n} events that took {@code ms}. */
  public void add(double ms, long n) {
    if (n <= 0) {
      return;
    }
    counts[index(ms)] += n;
    total += n;
  }

  public void add(LatencyBuckets other) {
    for (int i = 0; i < BUCKETS; i++) {
      counts[i] += other.counts[i];
    }
    total += other.total;
  }

  public long count() {
    return total;
  }

  public boolean isEmpty() {
    return total == 0;
  }

  /**
   * The latency at quantile {@code q} (0..1): the upper bound of the bucket it falls in, in ms;
   * {@code NaN} when empty.
   */
  public double quantile(double q) {
    if (total == 0) {
      return Double.NaN;
    }
    long rank = Math.max(1, (long) Math.ceil(q * total));
    long seen = 0;
    for (int i = 0; i < BUCKETS; i++) {
      seen += counts[i];
      if (seen >= rank) {
        return upper(i);
      }
    }
    return upper(BUCKETS - 1);
  }

  static int index(double ms) {
    if (!(ms >= 1)) {
      return 0;
    }
    int i = (int) Math.floor(Math.log(ms) / LOG_BASE) + 1;
    return Math.min(BUCKETS - 1, Math.max(1, i));
  }

  /** The upper bound of bucket {@code i} in ms. */
  static double upper(int i) {
    return Math.pow(1.1, i);
  }

  public JsonObject toJson() {
    JsonObject o = new JsonObject();
    for (int i = 0; i < BUCKETS; i++) {
      if (counts[i] != 0) {
        o.put(Integer.toString(i), counts[i]);
      }
    }
    return o;
  }

  /** Reads {@link #toJson}'s shape; unknown or out-of-range keys are ignored. */
  public static LatencyBuckets fromJson(JsonObject o) {
    LatencyBuckets b = new LatencyBuckets();
    if (o == null) {
      return b;
    }
    for (String k : o.fieldNames()) {
      int i;
      try {
        i = Integer.parseInt(k);
      } catch (NumberFormatException e) {
        continue;
      }
      Object v = o.getValue(k);
      if (i >= 0 && i < BUCKETS && v instanceof Number n && n.longValue() > 0) {
        b.counts[i] += n.longValue();
        b.total += n.longValue();
      }
    }
    return b;
  }

  @Override
  public String toString() {
    return "LatencyBuckets" + Arrays.toString(counts);
  }
}
