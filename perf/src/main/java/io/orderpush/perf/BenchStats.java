package io.orderpush.perf;

import io.vertx.core.json.JsonObject;
import java.util.Arrays;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * What one benchmark run observed. Used from a single event loop only, so nothing is synchronized.
 *
 * <p>Throughput and latency count only requests that complete inside the measured window; the
 * correctness checks (every answer 200, seqs increasing within a request, and per merchant every
 * seq handed out exactly once with no gap) cover the warm-up too.
 */
final class BenchStats {

  private final Histogram latencyMicros = new Histogram(TimeUnit.MINUTES.toMicros(5), 3);
  private final long[][] seqs;
  private final int[] seqCount;
  private final TreeMap<String, Long> errors = new TreeMap<>();
  private boolean measuring;
  private long requests;
  private long events;
  private long retries;
  long duplicates;
  long orderViolations;
  long wrongAnswers;
  private long seqDuplicates = -1;
  private long seqGaps = -1;

  BenchStats(int merchants) {
    seqs = new long[merchants][];
    seqCount = new int[merchants];
    for (int i = 0; i < merchants; i++) {
      seqs[i] = new long[64];
    }
  }

  void startMeasuring() {
    measuring = true;
    latencyMicros.reset();
    requests = 0;
    events = 0;
  }

  void stopMeasuring() {
    measuring = false;
  }

  void acked(long latencyNanos, int batchEvents) {
    if (measuring) {
      latencyMicros.recordValue(Math.max(1, latencyNanos / 1000));
      requests++;
      events += batchEvents;
    }
  }

  void seq(int merchant, long seq) {
    long[] a = seqs[merchant];
    if (seqCount[merchant] == a.length) {
      a = seqs[merchant] = Arrays.copyOf(a, a.length * 2);
    }
    a[seqCount[merchant]++] = seq;
  }

  void retry() {
    retries++;
  }

  void error(String kind) {
    errors.merge(kind, 1L, Long::sum);
  }

  long errorCount() {
    return errors.values().stream().mapToLong(Long::longValue).sum()
        + wrongAnswers
        + orderViolations
        + duplicates
        + Math.max(0, seqDuplicates);
  }

  /**
   * Per merchant, sorts the seqs acknowledged during the run: each must appear once (a repeat means
   * two events got the same seq) and they must be consecutive. A gap is only a warning, since
   * another writer may have used the same merchant ids meanwhile.
   */
  void checkSeqs() {
    long dups = 0;
    long gaps = 0;
    for (int m = 0; m < seqs.length; m++) {
      long[] a = Arrays.copyOf(seqs[m], seqCount[m]);
      Arrays.sort(a);
      for (int i = 1; i < a.length; i++) {
        if (a[i] == a[i - 1]) {
          dups++;
        } else if (a[i] != a[i - 1] + 1) {
          gaps++;
        }
      }
    }
    seqDuplicates = dups;
    seqGaps = gaps;
  }

  JsonObject toJson(Params p, double seconds) {
    JsonObject errs = new JsonObject();
    errors.forEach(errs::put);
    return new JsonObject()
        .put("batch", p.batch())
        .put("merchants", p.merchants())
        .put("concurrency", p.concurrency())
        .put("durationS", seconds)
        .put("warmupS", p.warmupSeconds())
        .put("events", events)
        .put("requests", requests)
        .put("eventsPerS", Math.round(events / seconds))
        .put("requestsPerS", Math.round(requests / seconds * 10) / 10.0)
        .put("p50Ms", ms(latencyMicros.getValueAtPercentile(50)))
        .put("p90Ms", ms(latencyMicros.getValueAtPercentile(90)))
        .put("p99Ms", ms(latencyMicros.getValueAtPercentile(99)))
        .put("maxMs", ms(latencyMicros.getMaxValue()))
        .put("meanMs", Math.round(latencyMicros.getMean() / 10.0) / 100.0)
        .put("retries503", retries)
        .put("errors", errorCount())
        .put("errorKinds", errs)
        .put("duplicateAnswers", duplicates)
        .put("orderViolations", orderViolations)
        .put("wrongAnswers", wrongAnswers)
        .put("seqDuplicates", seqDuplicates)
        .put("seqGaps", seqGaps);
  }

  String summaryLine(Params p, double seconds) {
    return String.format(
        "batch=%d merchants=%d concurrency=%d: %,d events/s, %.1f requests/s, latency p50=%.1f ms p99=%.1f ms max=%.1f ms,"
            + " 503-retries=%d, errors=%d%s",
        p.batch(),
        p.merchants(),
        p.concurrency(),
        Math.round(events / seconds),
        requests / seconds,
        ms(latencyMicros.getValueAtPercentile(50)),
        ms(latencyMicros.getValueAtPercentile(99)),
        ms(latencyMicros.getMaxValue()),
        retries,
        errorCount(),
        errors.isEmpty() ? "" : " " + errors);
  }

  private static double ms(long micros) {
    return Math.round(micros / 10.0) / 100.0;
  }
}
