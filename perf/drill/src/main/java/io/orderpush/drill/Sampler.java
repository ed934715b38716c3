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
 * Samples the drill once a second, on the drill's main thread: every gateway node's {@code
 * /metrics} (events committed, ingest requests shed, heap; summed over the nodes, a node that does
 * not answer counted with its last figures), each node's CPU time from /proc (when its pid is
 * known, else {@code process_cpu_usage}), and each verifier's applied count and the latency
 * histogram of the second just ended. Keeps every sample, per node the figures the report shows
 * ({@link Node}), and per transport the histogram of the whole run and of the seconds in which
 * ingest ran below {@code lowLoadRate}.
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

  /** One gateway node: its last figures from /metrics, and its CPU per sample. */
  static final class Node {
    final int index;
    final URI base;
    final long pid;
    long committed;
    long shed;
    long heapBytes;
    long heapMaxUsedBytes;
    long sent;
    long redeliveries;
    long takeovers;
    long claimsWaiting;
    long channelsAssigned;
    long failedScrapes;
    boolean scraped;
    double cpuFallback;

    /** When the drill killed it (epoch ms), or -1. */
    long killedMillis = -1;

    final List<Double> cpu = new ArrayList<>();
    private long lastCpuTicks = -1;
    private long lastCpuNanos;

    Node(int index, URI base, long pid) {
      this.index = index;
      this.base = base;
      this.pid = pid;
    }
  }

  private final HttpClientAgent client;
  final List<Node> nodes = new ArrayList<>();
  private final Verifier ws;
  private final Verifier cb;
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

  /** Per sample: when, and channels taken over from a dead node summed over the nodes. */
  final List<long[]> takeovers = new ArrayList<>();

  private long[] lastMachine;
  private long failedScrapes;

  Sampler(
      HttpClientAgent client,
      URI base,
      Verifier ws,
      Verifier cb,
      long gatewayPid,
      double lowLoadRate) {
    this(client, List.of(base), List.of(gatewayPid), ws, cb, lowLoadRate);
  }

  /** One node per base URL; {@code pids} in the same order (0: not known). */
  Sampler(
      HttpClientAgent client,
      List<URI> bases,
      List<Long> pids,
      Verifier ws,
      Verifier cb,
      double lowLoadRate) {
    this.client = client;
    for (int i = 0; i < bases.size(); i++) {
      nodes.add(new Node(i, bases.get(i), i < pids.size() ? pids.get(i) : 0));
    }
    this.ws = ws;
    this.cb = cb;
    this.lowLoadRate = lowLoadRate;
  }

  /** The drill killed node {@code index} at {@code atMillis}: it keeps its last figures. */
  void killed(int index, long atMillis) {
    nodes.get(index).killedMillis = atMillis;
  }

  Sample last() {
    return samples.isEmpty() ? null : samples.get(samples.size() - 1);
  }

  long failedScrapes() {
    return failedScrapes;
  }

  Sample sample() {
    long now = System.currentTimeMillis();
    scrapeAll();
    Sample prev = last();
    long committed = 0;
    long shed = 0;
    long heap = 0;
    long takenOver = 0;
    for (Node n : nodes) {
      committed += n.committed;
      shed += n.shed;
      heap += n.heapBytes;
      takenOver += n.takeovers;
    }
    takeovers.add(new long[] {now, takenOver});
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
    double cpu = 0;
    for (Node n : nodes) {
      double c = cpuCores(n);
      n.cpu.add(c);
      cpu += c;
    }
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

  /** Scrapes every live node at once; a node that does not answer keeps its last figures. */
  private void scrapeAll() {
    List<java.util.concurrent.CompletableFuture<String>> pending = new ArrayList<>();
    for (Node n : nodes) {
      pending.add(
          n.killedMillis > 0
              ? java.util.concurrent.CompletableFuture.completedFuture(null)
              : scrape(n.base));
    }
    for (int i = 0; i < nodes.size(); i++) {
      Node n = nodes.get(i);
      String metrics;
      try {
        metrics = pending.get(i).get(6, TimeUnit.SECONDS);
      } catch (Exception e) {
        metrics = null;
      }
      if (metrics == null) {
        if (n.killedMillis < 0) {
          n.failedScrapes++;
          failedScrapes++;
        }
        continue;
      }
      n.scraped = true;
      n.committed = (long) metric(metrics, "gateway_ingest_events_total", "result=\"stored\"");
      n.shed = (long) metric(metrics, "gateway_ingest_rejected_total", "");
      n.heapBytes = (long) metric(metrics, "jvm_memory_used_bytes", "area=\"heap\"");
      n.heapMaxUsedBytes = Math.max(n.heapMaxUsedBytes, n.heapBytes);
      n.sent = (long) metric(metrics, "gateway_delivery_events_sent_total", "");
      n.redeliveries = (long) metric(metrics, "gateway_delivery_redeliveries_total", "");
      n.takeovers = (long) metric(metrics, "gateway_delivery_takeovers_total", "");
      n.claimsWaiting = (long) metric(metrics, "gateway_delivery_claims_waiting_total", "");
      n.channelsAssigned = (long) metric(metrics, "gateway_delivery_channels_assigned", "");
      n.cpuFallback = metric(metrics, "process_cpu_usage", "");
      heapMaxBytes =
          Math.max(heapMaxBytes, (long) metric(metrics, "jvm_memory_max_bytes", "area=\"heap\""));
    }
  }

  /** Cores the node used since it was last read (/proc), else its own {@code process_cpu_usage}. */
  private double cpuCores(Node n) {
    if (n.killedMillis > 0) {
      return 0;
    }
    if (n.pid > 0) {
      try {
        String stat = Files.readString(Path.of("/proc/" + n.pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
        long nanos = System.nanoTime();
        // Over the time since this was last read (not since the last sample: a failed read in
        // between would double it).
        double cores =
            n.lastCpuTicks < 0
                ? 0
                : (ticks - n.lastCpuTicks)
                    / (double) TICKS_PER_SECOND
                    / ((nanos - n.lastCpuNanos) / 1e9);
        n.lastCpuTicks = ticks;
        n.lastCpuNanos = nanos;
        return cores;
      } catch (IOException | RuntimeException e) {
        // the gateway is gone or /proc is not Linux's: fall back to its own figure
      }
    }
    return n.cpuFallback * Runtime.getRuntime().availableProcessors();
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

  private java.util.concurrent.CompletableFuture<String> scrape(URI base) {
    RequestOptions req =
        new RequestOptions()
            .setMethod(HttpMethod.GET)
            .setHost(base.getHost())
            .setPort(base.getPort())
            .setURI("/metrics")
            .setTimeout(5_000);
    return client
        .request(req)
        .compose(r -> r.send())
        .compose(r -> r.body())
        .map(Buffer::toString)
        .toCompletionStage()
        .toCompletableFuture();
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
