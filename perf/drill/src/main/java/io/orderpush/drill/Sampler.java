package io.orderpush.drill;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;

/**
 * Samples the drill once a second, on the drill's main thread: the gateway's {@code /metrics}
 * (events committed, ingest requests shed, heap), the gateway's CPU time from /proc (when its pid
 * is known, else {@code process_cpu_usage}), and each verifier's applied count and the latency
 * histogram of the second just ended. Keeps every sample, and per transport the histogram of the
 * whole run and of the seconds in which ingest ran below {@code lowLoadRate}.
 */
final class Sampler {

  /** One second of the drill. Rates are per second over the interval since the previous sample. */
  record Sample(
      long atMillis,
      long committed,
      long shed,
      long wsApplied,
      long cbApplied,
      double ingestRate,
      double wsRate,
      double cbRate,
      long wsP99Micros,
      long cbP99Micros,
      double cpuCores,
      double machineCores,
      long heapBytes) {
    long wsLag() {
      return Math.max(0, committed - wsApplied);
    }

    long cbLag() {
      return Math.max(0, committed - cbApplied);
    }
  }

  private static final long TICKS_PER_SECOND = 100; // USER_HZ on Linux

  private final HttpClientAgent client;
  private final URI base;
  private final Verifier ws;
  private final Verifier cb;
  private final long gatewayPid;
  private final double lowLoadRate;
  final List<Sample> samples = new ArrayList<>();
  final Histogram wsAll = new Histogram(3);
  final Histogram cbAll = new Histogram(3);
  final Histogram wsLow = new Histogram(3);
  final Histogram cbLow = new Histogram(3);

  /**
   * Max per-second p99 (micros) among the seconds below the low-load rate with at least 100 events.
   */
  long wsLowWorstSecondP99;

  long cbLowWorstSecondP99;
  long heapMaxBytes;
  private long lastCpuTicks = -1;
  private long lastCpuNanos;
  private long[] lastMachine;
  private long failedScrapes;

  Sampler(
      HttpClientAgent client,
      URI base,
      Verifier ws,
      Verifier cb,
      long gatewayPid,
      double lowLoadRate) {
    this.client = client;
    this.base = base;
    this.ws = ws;
    this.cb = cb;
    this.gatewayPid = gatewayPid;
    this.lowLoadRate = lowLoadRate;
  }

  Sample last() {
    return samples.isEmpty() ? null : samples.get(samples.size() - 1);
  }

  long failedScrapes() {
    return failedScrapes;
  }

  Sample sample() {
    long now = System.currentTimeMillis();
    String metrics = scrape();
    Sample prev = last();
    long committed =
        metrics == null && prev != null
            ? prev.committed()
            : (long) metric(metrics, "gateway_ingest_events_total", "result=\"stored\"");
    long shed =
        metrics == null && prev != null
            ? prev.shed()
            : (long) metric(metrics, "gateway_ingest_rejected_total", "");
    long heap =
        metrics == null && prev != null
            ? prev.heapBytes()
            : (long) metric(metrics, "jvm_memory_used_bytes", "area=\"heap\"");
    if (metrics != null) {
      heapMaxBytes =
          Math.max(heapMaxBytes, (long) metric(metrics, "jvm_memory_max_bytes", "area=\"heap\""));
    }
    long wsApplied = ws.applied;
    long cbApplied = cb.applied;
    double dt = prev == null ? 1 : Math.max(0.001, (now - prev.atMillis()) / 1000.0);
    double ingestRate = prev == null ? 0 : (committed - prev.committed()) / dt;
    Histogram wsSecond = ws.latencyMicros.getIntervalHistogram();
    Histogram cbSecond = cb.latencyMicros.getIntervalHistogram();
    wsAll.add(wsSecond);
    cbAll.add(cbSecond);
    if (ingestRate < lowLoadRate) {
      wsLow.add(wsSecond);
      cbLow.add(cbSecond);
      if (wsSecond.getTotalCount() >= 100) {
        wsLowWorstSecondP99 = Math.max(wsLowWorstSecondP99, wsSecond.getValueAtPercentile(99));
      }
      if (cbSecond.getTotalCount() >= 100) {
        cbLowWorstSecondP99 = Math.max(cbLowWorstSecondP99, cbSecond.getValueAtPercentile(99));
      }
    }
    double cpu = cpuCores(metrics, dt);
    Sample s =
        new Sample(
            now,
            committed,
            shed,
            wsApplied,
            cbApplied,
            ingestRate,
            prev == null ? 0 : (wsApplied - prev.wsApplied()) / dt,
            prev == null ? 0 : (cbApplied - prev.cbApplied()) / dt,
            wsSecond.getTotalCount() == 0 ? -1 : wsSecond.getValueAtPercentile(99),
            cbSecond.getTotalCount() == 0 ? -1 : cbSecond.getValueAtPercentile(99),
            cpu,
            machineCores(),
            heap);
    samples.add(s);
    return s;
  }

  private double cpuCores(String metrics, double dt) {
    if (gatewayPid > 0) {
      try {
        String stat = Files.readString(Path.of("/proc/" + gatewayPid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        long nanos = System.nanoTime();
        // Over the time since this was last read (not since the last sample: a failed read in
        // between would double it).
        double cores =
            lastCpuTicks < 0
                ? 0
                : (ticks - lastCpuTicks)
                    / (double) TICKS_PER_SECOND
                    / ((nanos - lastCpuNanos) / 1e9);
        lastCpuTicks = ticks;
        lastCpuNanos = nanos;
        return cores;
      } catch (IOException | RuntimeException e) {
        // the gateway is gone or /proc is not Linux's: fall back to its own figure
      }
    }
    return metrics == null
        ? 0
        : metric(metrics, "process_cpu_usage", "") * Runtime.getRuntime().availableProcessors();
  }

  /**
   * Cores busy on the whole machine since the last sample (/proc/stat: all but idle and iowait), or
   * -1.
   */
  private double machineCores() {
    try {
      String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
      long total = 0;
      for (int i = 1; i < Math.min(f.length, 9); i++) {
        total += Long.parseLong(f[i]);
      }
      long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
      long[] now = {total, idle};
      long[] before = lastMachine;
      lastMachine = now;
      if (before == null || now[0] == before[0]) {
        return -1;
      }
      double busy = (double) ((now[0] - before[0]) - (now[1] - before[1])) / (now[0] - before[0]);
      return busy * Runtime.getRuntime().availableProcessors();
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private String scrape() {
    RequestOptions req =
        new RequestOptions()
            .setMethod(HttpMethod.GET)
            .setHost(base.getHost())
            .setPort(base.getPort())
            .setURI("/metrics")
            .setTimeout(5_000);
    try {
      return client
          .request(req)
          .compose(r -> r.send())
          .compose(r -> r.body())
          .map(Buffer::toString)
          .toCompletionStage()
          .toCompletableFuture()
          .get(6, TimeUnit.SECONDS);
    } catch (Exception e) {
      failedScrapes++;
      return null;
    }
  }

  /** The sum of the samples of metric {@code name} whose labels contain {@code label}. */
  static double metric(String text, String name, String label) {
    double sum = 0;
    int from = 0;
    while (from < text.length()) {
      int eol = text.indexOf('\n', from);
      if (eol < 0) {
        eol = text.length();
      }
      if (text.startsWith(name, from) && text.charAt(from) != '#') {
        int after = from + name.length();
        char c = after < eol ? text.charAt(after) : '\n';
        if (c == '{' || c == ' ') {
          String line = text.substring(from, eol);
          int space = line.lastIndexOf(' ');
          if (line.indexOf(label) >= 0 && space > 0) {
            try {
              sum += Double.parseDouble(line.substring(space + 1));
            } catch (NumberFormatException e) {
              // NaN or garbage: not counted
            }
          }
        }
      }
      from = eol + 1;
    }
    return sum;
  }
}
