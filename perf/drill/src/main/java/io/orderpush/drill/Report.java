package io.orderpush.drill;

import io.orderpush.synthetic.Population;
import io.orderpush.synthetic.Profile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;

/**
 * The drill's report: {@code report.md} (verdict, correctness per app, ingest and delivery per
 * phase, latency, lag, drain, gateway CPU and heap, the targets, a timeline) and {@code
 * timeline.csv} (every second).
 */
final class Report {

  /** Targets of the peak-day drill (issue 6). */
  static final double TARGET_INGEST_RATE = 25_000;

  static final double LOW_LOAD_RATE = 0.8 * TARGET_INGEST_RATE;
  static final double TARGET_P99_MS = 100;
  static final double TARGET_DRAIN_S = 60;

  private final DrillConfig config;
  private final Population population;
  private final Profile profile;
  private final Sampler sampler;
  private final Path out;
  private final Path root;
  long committedBefore;
  long startMillis = -1;
  long loadEndMillis = -1;
  long caughtUpMillis = -1;
  int gatlingExit = -1;
  String gatlingDone;
  long signaturesVerified;

  /** When the drill killed a node (epoch ms), or -1. */
  long killMillis = -1;

  /** Events stored, from the heads (GET /v1/lag), when counters cannot tell (a node killed); -1. */
  long committedStored = -1;

  /** The WebSocket consumer group's connections per node at the end, or null. */
  int[] wsConnectionsPerNode;

  private final List<String> failures = new ArrayList<>();
  private final List<String> summary = new ArrayList<>();
  private String killSummary;

  Report(
      DrillConfig config,
      Population population,
      Profile profile,
      Sampler sampler,
      Path out,
      Path root) {
    this.config = config;
    this.population = population;
    this.profile = profile;
    this.sampler = sampler;
    this.out = out;
    this.root = root;
  }

  String summary() {
    return String.join("\n", summary);
  }

  /**
   * Writes the files; returns whether the drill passed (nothing lost, reordered, applied twice; the
   * load completed).
   */
  boolean write(Verifier.Outcome ws, Verifier.Outcome cb) throws IOException {
    List<Sampler.Sample> all = sampler.samples;
    Sampler.Sample last = all.get(all.size() - 1);
    long expected = population.totalEvents();
    long committed = committedStored >= 0 ? committedStored : last.committed() - committedBefore;
    check(gatlingExit == 0, "Gatling exited with status " + gatlingExit + " (see gatling.log)");
    check(
        gatlingDone != null && gatlingDone.contains("exhausted=true"),
        "the load generator did not offer the whole population ("
            + (gatlingDone == null ? "no gatling-done file" : gatlingDone.replace('\n', ' '))
            + ")");
    check(
        committed == expected,
        "the gateway committed "
            + committed
            + " events"
            + (committedStored >= 0 ? " (sum of the stored heads)" : "")
            + ", the population has "
            + expected);
    check(
        killMillis > 0 || !config.killsANode(),
        "no node was killed (DRILL_KILL_NODE_AT="
            + config.killNodeAtS()
            + " s: did the load last that long?)");
    outcome("WebSocket app", ws);
    outcome("callback app", cb);
    check(
        caughtUpMillis > 0,
        "the consumers had not applied every event "
            + config.drainTimeoutS()
            + " s after the load ended");

    StringBuilder md = new StringBuilder();
    String verdict = failures.isEmpty() ? "PASSED" : "FAILED";
    md.append("# Peak-day drill: ").append(verdict).append("\n\n");
    md.append(
        String.format(
            Locale.ROOT,
            "%s, gateway %s, %d cores, %,d MB RAM; scale `%s` (%s), run id `%s`.%n%n",
            Instant.now().toString().substring(0, 19).replace('T', ' ') + " UTC",
            gitRevision(),
            Runtime.getRuntime().availableProcessors(),
            totalMemoryMb(),
            config.scaleName(),
            number(config.scale()),
            config.runId()));
    md.append(
        String.format(
            Locale.ROOT,
            "Population: %,d merchants (2 giants x %,d orders, 42 large x %,d, %,d tail x %,d), "
                + "%,d orders, **%,d events**. Load (open model, Gatling): %,.0f events/s for %s, ramp to %,.0f events/s in %s, "
                + "hold %s, down in %s, %,.0f events/s for %s; %d+ events per request.%n%n",
            population.merchants().size(),
            population.merchants().get(0).orders(),
            population.merchants().get(2).orders(),
            config.tailMerchants(),
            config.tailMerchants() > 0 ? population.merchants().get(44).orders() : 0,
            population.totalOrders(),
            expected,
            profile.normalRate(),
            dur(profile.normalS()),
            profile.peakRate(),
            dur(profile.rampUpS()),
            dur(profile.holdS()),
            dur(profile.rampDownS()),
            profile.normalRate(),
            dur(profile.tailS()),
            config.batch()));
    if (!failures.isEmpty()) {
      md.append("## Failures\n\n");
      failures.forEach(f -> md.append("- ").append(f).append('\n'));
      md.append('\n');
    }

    md.append("## Correctness\n\n| | WebSocket app | callback app |\n|---|---:|---:|\n");
    row(md, "events applied", ws.applied(), cb.applied());
    row(md, "events lost (must be 0)", ws.lost(), cb.lost());
    row(md, "events applied twice (must be 0)", ws.repeats(), cb.repeats());
    row(md, "out of order: seq gaps (must be 0)", ws.gaps(), cb.gaps());
    row(md, "order life cycle errors (must be 0)", ws.lifecycleErrors(), cb.lifecycleErrors());
    row(md, "orders left half way (must be 0)", ws.openOrders(), cb.openOrders());
    row(md, "events beyond the population (must be 0)", ws.extra(), cb.extra());
    row(md, "other errors (must be 0)", ws.errors(), cb.errors());
    if (ws.redelivered() + cb.redelivered() > 0 || moves()) {
      row(
          md,
          "channel delivered by two connections at once (must be 0)",
          ws.doubleOwners(),
          cb.doubleOwners());
      row(
          md,
          "redelivered above the stored cursor at a hand-over (expected after a move; skipped)",
          ws.redelivered(),
          cb.redelivered());
      row(
          md,
          "of them acked well before (the ack settle time), not stored when the channel moved",
          ws.ackedNotStored(),
          cb.ackedNotStored());
      row(
          md,
          "events of a moved channel sent before its old connection was told `unassigned`, handed"
              + " to the app late (skipped: the new owner delivers them)",
          ws.lateFromMoved(),
          0);
      row(md, "channels that changed connection (WebSocket)", ws.handovers(), 0);
      row(md, "acks refused because the channel had moved (`not_assigned`)", ws.refusedAcks(), 0);
      row(md, "connections reopened", ws.reconnects(), 0);
    }
    md.append(
        String.format(
            Locale.ROOT,
            "%nIngest: %,d events committed of %,d offered by the population; %,d requests shed with 503 "
                + "(retried by the load generator with backoff); Gatling exit status %d. Callback signatures verified: %,d.%n",
            committed,
            expected,
            last.shed(),
            gatlingExit,
            signaturesVerified));
    Stream.concat(
            ws.firstErrors().stream().map(e -> "WebSocket: " + e),
            cb.firstErrors().stream().map(e -> "callback: " + e))
        .limit(20)
        .forEach(e -> md.append("- ").append(e).append('\n'));

    // Per phase.
    md.append("\n## Throughput per phase (events/s, per second; lag in events)\n\n");
    md.append(
        "| phase | s | offered | ingest median | ingest p5 | ingest max | WebSocket median | callback median "
            + "| max lag WS | max lag callback | gateway CPU median (cores) | machine CPU median (cores) | heap max (MB) |\n");
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    double peakP5 = -1;
    double peakMedian = -1;
    for (String phase : List.of("normal", "ramp-up", "peak", "ramp-down", "tail", "drain")) {
      List<Sampler.Sample> in = phase(phase);
      if (in.isEmpty()) {
        continue;
      }
      double[] ingest = values(in, Sampler.Sample::ingestRate);
      double offered = in.stream().mapToDouble(s -> profile.rateAt(t(s) - 0.5)).average().orElse(0);
      md.append(
          String.format(
              Locale.ROOT,
              "| %s | %d | %,.0f | %,.0f | %,.0f | %,.0f | %,.0f | %,.0f | %,d | %,d | %.2f | %.2f | %,d |%n",
              phase,
              in.size(),
              offered,
              pct(ingest, 50),
              pct(ingest, 5),
              pct(ingest, 100),
              pct(values(in, Sampler.Sample::wsRate), 50),
              pct(values(in, Sampler.Sample::cbRate), 50),
              in.stream().mapToLong(Sampler.Sample::wsLag).max().orElse(0),
              in.stream().mapToLong(Sampler.Sample::cbLag).max().orElse(0),
              pct(values(in, Sampler.Sample::cpuCores), 50),
              pct(values(in, Sampler.Sample::machineCores), 50),
              in.stream().mapToLong(Sampler.Sample::heapBytes).max().orElse(0) >> 20));
      if (phase.equals("peak")) {
        peakP5 = pct(ingest, 5);
        peakMedian = pct(ingest, 50);
      }
    }

    // Latency.
    md.append(
        "\n## Commit-to-receipt latency (ms; commit = the event's ingestedAt, receipt = the consumer has the message)\n\n");
    md.append("| | events | p50 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|\n");
    latency(md, "WebSocket, whole drill", sampler.wsAll);
    latency(md, "callback, whole drill", sampler.cbAll);
    String low = String.format(Locale.ROOT, "ingest below %,.0f/s", LOW_LOAD_RATE);
    latency(md, "WebSocket, seconds with " + low, sampler.wsLow);
    latency(md, "callback, seconds with " + low, sampler.cbLow);
    md.append(
        String.format(
            Locale.ROOT,
            "%nWorst p99 of a single second with %s (seconds with 100+ events): WebSocket %s ms, callback %s ms.%n",
            low,
            ms(sampler.wsLowWorstSecondP99),
            ms(sampler.cbLowWorstSecondP99)));

    // Lag and drain.
    Sampler.Sample wsMax =
        all.stream().max((a, b) -> Long.compare(a.wsLag(), b.wsLag())).orElse(last);
    Sampler.Sample cbMax =
        all.stream().max((a, b) -> Long.compare(a.cbLag(), b.cbLag())).orElse(last);
    double drainS = drainAfterPeak();
    md.append("\n## Lag and drain\n\n");
    md.append(
        String.format(
            Locale.ROOT,
            "- Maximum lag: WebSocket app **%,d** events (at %s), callback app **%,d** events (at %s).%n",
            wsMax.wsLag(),
            clock(wsMax),
            cbMax.cbLag(),
            clock(cbMax)));
    md.append(
        String.format(
            Locale.ROOT,
            "- Time to drain after the peak (from the end of the hold at %s until both apps had applied "
                + "every event committed by then): **%s**.%n",
            Drill.clock(profile.peakEndS()),
            drainS < 0 ? "not reached" : String.format(Locale.ROOT, "%.0f s", drainS)));
    md.append(
        String.format(
            Locale.ROOT,
            "- Load ended at %s; both apps had every event at %s.%n",
            loadEndMillis < 0 ? "-" : Drill.clock((loadEndMillis - startMillis) / 1000.0),
            caughtUpMillis < 0
                ? "never (timed out)"
                : Drill.clock((caughtUpMillis - startMillis) / 1000.0)));

    // Resources.
    List<Sampler.Sample> load =
        all.stream().filter(s -> startMillis > 0 && s.atMillis() > startMillis).toList();
    double[] cpu = values(load, Sampler.Sample::cpuCores);
    double[] machine = values(load, Sampler.Sample::machineCores);
    md.append(
        String.format(
            Locale.ROOT,
            "%n## Gateway resources%n%nCPU: median %.2f, p95 %.2f, max %.2f cores of %d (the box also runs "
                + "PostgreSQL, Redis, Gatling and the consumers: the whole machine was busy %.2f cores at the median, %.2f at p95). "
                + "Heap used: max %,d MB of %,d MB.%s%n",
            pct(cpu, 50),
            pct(cpu, 95),
            pct(cpu, 100),
            Runtime.getRuntime().availableProcessors(),
            pct(machine, 50),
            pct(machine, 95),
            load.stream().mapToLong(Sampler.Sample::heapBytes).max().orElse(0) >> 20,
            sampler.heapMaxBytes >> 20,
            (sampler.nodes.size() > 1
                    ? " CPU and heap are summed over the "
                        + sampler.nodes.size()
                        + " nodes (heap: of each node's maximum); per node under Nodes."
                    : "")
                + (sampler.failedScrapes() > 0
                    ? " (" + sampler.failedScrapes() + " metric scrapes failed)"
                    : "")));

    nodes(md, ws, cb);

    // Targets.
    md.append("\n## Targets (issue 6, full size)\n\n| target | measured | met |\n|---|---|---|\n");
    boolean correct = failures.isEmpty();
    target(
        md,
        "zero events lost, reordered or applied twice",
        correct ? "none" : "see Failures",
        correct);
    target(
        md,
        "ingest holds at least 25,000 events/s through the peak (5th percentile of the peak's seconds)",
        peakP5 < 0
            ? "no peak"
            : String.format(
                Locale.ROOT,
                "p5 %,.0f, median %,.0f events/s (offered %,.0f)",
                peakP5,
                peakMedian,
                profile.peakRate()),
        peakP5 >= TARGET_INGEST_RATE);
    double wsLowP99 =
        sampler.wsLow.getTotalCount() == 0 ? -1 : sampler.wsLow.getValueAtPercentile(99) / 1000.0;
    double cbLowP99 =
        sampler.cbLow.getTotalCount() == 0 ? -1 : sampler.cbLow.getValueAtPercentile(99) / 1000.0;
    target(
        md,
        String.format(
            Locale.ROOT,
            "p99 commit-to-receipt under 100 ms while ingest is below %,.0f events/s",
            LOW_LOAD_RATE),
        String.format(Locale.ROOT, "WebSocket %.1f ms, callback %.1f ms", wsLowP99, cbLowP99),
        wsLowP99 >= 0 && cbLowP99 >= 0 && wsLowP99 < TARGET_P99_MS && cbLowP99 < TARGET_P99_MS);
    target(
        md,
        "consumers caught up within 60 s after the peak ends",
        drainS < 0 ? "not reached" : String.format(Locale.ROOT, "%.0f s", drainS),
        drainS >= 0 && drainS <= TARGET_DRAIN_S);

    timeline(md);
    md.append(
            "\n## Files\n\n- `timeline.csv`: every second\n- `gatling.log`, Gatling's HTML report: ")
        .append(gatlingReport())
        .append(
            sampler.nodes.size() > 1
                ? "\n- `gateway-<n>.log`: node n's log (when run by scripts/drill.sh)\n"
                : "\n- `gateway.log` (when run by scripts/drill.sh)\n");
    Files.writeString(out.resolve("report.md"), md.toString());
    writeCsv();

    summary.add(
        String.format(
            Locale.ROOT,
            "drill: %s: %,d events; lost %d/%d, applied twice %d/%d, out of order %d/%d (WebSocket/callback)",
            verdict,
            expected,
            ws.lost(),
            cb.lost(),
            ws.repeats(),
            cb.repeats(),
            ws.gaps() + ws.lifecycleErrors(),
            cb.gaps() + cb.lifecycleErrors()));
    summary.add(
        String.format(
            Locale.ROOT,
            "drill: peak ingest median %,.0f/s (p5 %,.0f); p99 WebSocket %s ms, callback %s ms; max lag %,d/%,d; drain after peak %s",
            peakMedian,
            peakP5,
            ms(sampler.wsAll.getValueAtPercentile(99)),
            ms(sampler.cbAll.getValueAtPercentile(99)),
            wsMax.wsLag(),
            cbMax.cbLag(),
            drainS < 0 ? "not reached" : String.format(Locale.ROOT, "%.0f s", drainS)));
    if (killSummary != null) {
      summary.add(killSummary);
    }
    failures.forEach(f -> summary.add("drill: FAILED: " + f));
    return failures.isEmpty();
  }

  private boolean moves() {
    return config.gatewayUrls().size() > 1 || config.killsANode();
  }

  /** Per node figures, and the kill: when, which node, how long its channels waited. */
  private void nodes(StringBuilder md, Verifier.Outcome ws, Verifier.Outcome cb) {
    if (sampler.nodes.size() < 2) {
      return;
    }
    md.append(
        String.format(
            Locale.ROOT,
            "%n## Nodes%n%n%d gateway nodes on one PostgreSQL and one Redis; ingest round robin over them "
                + "(a retry goes to the next node), the WebSocket consumer group's %d connections spread over them, "
                + "callbacks posted by whichever node owns the channel. Counters from each node's /metrics "
                + "(a killed node's as last scraped), CPU from /proc.%n%n",
            sampler.nodes.size(),
            config.wsConnections()));
    md.append(
        "| node | state | events stored (ingest) | events sent | redelivered | takeovers | claims waited "
            + "| channels owned (last) | WS connections (end) | CPU median / max (cores) | heap max (MB) |\n");
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
    for (Sampler.Node n : sampler.nodes) {
      double[] cpu =
          n.cpu.stream().mapToDouble(Double::doubleValue).filter(c -> c > 0).sorted().toArray();
      md.append(
          String.format(
              Locale.ROOT,
              "| %d (`%s`, pid %d) | %s | %,d | %,d | %,d | %,d | %,d | %,d | %s | %.2f / %.2f | %,d |%n",
              n.index + 1,
              n.base.getAuthority(),
              n.pid,
              n.killedMillis > 0
                  ? "**killed** at "
                      + Drill.clock(Math.max(0, (n.killedMillis - startMillis) / 1000.0))
                  : n.scraped ? "up" : "never answered",
              n.committed,
              n.sent,
              n.redeliveries,
              n.takeovers,
              n.claimsWaiting,
              n.channelsAssigned,
              wsConnectionsPerNode == null ? "-" : Integer.toString(wsConnectionsPerNode[n.index]),
              pct(cpu, 50),
              pct(cpu, 100),
              n.heapMaxUsedBytes >> 20));
    }
    if (killMillis < 0) {
      return;
    }
    double at = (killMillis - startMillis) / 1000.0;
    md.append(
        String.format(
            Locale.ROOT,
            "%n### Node killed%n%nNode %d was killed with SIGKILL at %s (%s phase; `DRILL_KILL_NODE_AT=%s`).%n%n",
            config.killNode(),
            Drill.clock(at),
            profile.phaseAt(at),
            number0(config.killNodeAtS())));
    long[] taken = takeoversAfterKill();
    md.append(
        taken[0] < 0
            ? "Takeover: no channel taken over was counted (`gateway_delivery_takeovers_total` of the"
                + " live nodes, sampled every second).\n\n"
            : String.format(
                Locale.ROOT,
                "Takeover: the live nodes took over **%,d** channels of both apps from the dead node"
                    + " (`gateway_delivery_takeovers_total`, sampled every second): the first counted by"
                    + " **kill + %.1f s**, the last by kill + %.1f s.%n%n",
                taken[2],
                taken[0] / 1000.0,
                taken[1] / 1000.0));
    md.append("| | WebSocket app | callback app |\n|---|---:|---:|\n");
    Verifier.Takeover wt = ws.takeover();
    Verifier.Takeover ct = cb.takeover();
    md.append(
        String.format(
            Locale.ROOT,
            "| takeover: kill to the last first delivery of a channel that waited | %s | %s |%n",
            secs(wt.millis()),
            secs(ct.millis())));
    md.append(
        String.format(
            Locale.ROOT,
            "| channels whose first delivery after the kill waited over 1 s | %,d | %,d |%n",
            wt.waited(),
            ct.waited()));
    md.append(
        String.format(
            Locale.ROOT,
            "| longest such wait (from the kill, or the event's ingest if later) | %s | %s |%n",
            secs(wt.maxWaitMillis()),
            secs(ct.maxWaitMillis())));
    md.append(
        String.format(
            Locale.ROOT,
            "| channels delivered to after the kill | %,d | %,d |%n",
            wt.delivered(),
            ct.delivered()));
    md.append(
        String.format(
            Locale.ROOT,
            "| events redelivered above the stored cursor (skipped) | %,d | %,d |%n",
            ws.redelivered(),
            cb.redelivered()));
    long[] wsLag = lagAround(Sampler.Sample::wsLag);
    long[] cbLag = lagAround(Sampler.Sample::cbLag);
    md.append(
        String.format(
            Locale.ROOT,
            "| max lag in the 10 s before the kill / after it (events) | %,d / %,d | %,d / %,d |%n",
            wsLag[0],
            wsLag[1],
            cbLag[0],
            cbLag[1]));
    md.append(
        String.format(
            Locale.ROOT,
            "| lag back to its level before the kill (or 100 events) | %s | %s |%n",
            wsLag[2] < 0 ? "never" : "kill + " + wsLag[2] / 1000.0 + " s",
            cbLag[2] < 0 ? "never" : "kill + " + cbLag[2] / 1000.0 + " s"));
    killSummary =
        (String.format(
            Locale.ROOT,
            "drill: node %d killed at %s; %s; first delivery of a channel that waited: last at kill + %s (WebSocket) / %s (callback), channels that waited %d / %d, redelivered %,d / %,d",
            config.killNode(),
            Drill.clock(at),
            taken[0] < 0
                ? "no takeover counted"
                : String.format(
                    Locale.ROOT,
                    "%,d channels taken over by kill + %.1f s",
                    taken[2],
                    taken[1] / 1000.0),
            secs(wt.millis()),
            secs(ct.millis()),
            wt.waited(),
            ct.waited(),
            ws.redelivered(),
            cb.redelivered()));
  }

  /**
   * From the per-second samples of the nodes' takeover counters: kill to the first sample that
   * counted one, kill to the last sample that counted more (ms; -1), and how many after the kill.
   */
  private long[] takeoversAfterKill() {
    long first = -1;
    long lastAt = -1;
    long before = -1;
    long lastCount = 0;
    for (long[] t : sampler.takeovers) {
      if (t[0] <= killMillis) {
        before = t[1];
        continue;
      }
      if (before < 0) {
        before = 0;
      }
      if (t[1] > Math.max(before, lastCount)) {
        if (first < 0) {
          first = t[0] - killMillis;
        }
        lastAt = t[0] - killMillis;
        lastCount = t[1];
      }
    }
    return new long[] {first, lastAt, Math.max(0, lastCount - Math.max(0, before))};
  }

  /**
   * Lag around the kill: the max in the 10 s before it, the max after it, and how long after the
   * kill the lag was back at or below the larger of the first and 100 events, for good (ms; -1).
   */
  private long[] lagAround(java.util.function.ToLongFunction<Sampler.Sample> lag) {
    long before = 0;
    long after = 0;
    long back = -1;
    long level = 0;
    for (Sampler.Sample s : sampler.samples) {
      if (s.atMillis() <= killMillis && s.atMillis() > killMillis - 10_000) {
        before = Math.max(before, lag.applyAsLong(s));
      }
    }
    level = Math.max(before, 100);
    for (Sampler.Sample s : sampler.samples) {
      if (s.atMillis() > killMillis) {
        long l = lag.applyAsLong(s);
        after = Math.max(after, l);
        if (l > level) {
          back = -1;
        } else if (back < 0) {
          back = s.atMillis() - killMillis;
        }
      }
    }
    return new long[] {before, after, back};
  }

  private static String secs(long millis) {
    return millis < 0 ? "-" : String.format(Locale.ROOT, "%.1f s", millis / 1000.0);
  }

  private static String number0(double d) {
    return d == Math.rint(d) ? String.format(Locale.ROOT, "%.0f", d) : Double.toString(d);
  }

  private void outcome(String app, Verifier.Outcome o) {
    check(o.lost() == 0, app + ": " + o.lost() + " events lost");
    check(
        o.doubleOwners() == 0,
        app + ": " + o.doubleOwners() + " events from a connection whose channel had moved");
    check(o.repeats() == 0, app + ": " + o.repeats() + " events applied twice");
    check(o.gaps() == 0, app + ": " + o.gaps() + " events out of order (seq gaps)");
    check(o.lifecycleErrors() == 0, app + ": " + o.lifecycleErrors() + " order life cycle errors");
    check(o.openOrders() == 0, app + ": " + o.openOrders() + " orders left half way");
    check(o.extra() == 0, app + ": " + o.extra() + " events beyond the population");
    check(
        o.errors() == 0,
        app
            + ": "
            + o.errors()
            + " other errors (first problems: "
            + String.join("; ", o.firstErrors().stream().limit(3).toList())
            + ")");
  }

  private void check(boolean ok, String failure) {
    if (!ok) {
      failures.add(failure);
    }
  }

  /**
   * Seconds from the end of the peak hold until both apps had applied what was committed by then;
   * -1 if never.
   */
  private double drainAfterPeak() {
    if (startMillis < 0) {
      return -1;
    }
    long peakEnd = startMillis + Math.round(profile.peakEndS() * 1000);
    long committedAtPeakEnd = -1;
    for (Sampler.Sample s : sampler.samples) {
      if (s.atMillis() < peakEnd) {
        continue;
      }
      if (committedAtPeakEnd < 0) {
        committedAtPeakEnd = s.committed();
      }
      if (s.wsApplied() >= committedAtPeakEnd - committedBefore
          && s.cbApplied() >= committedAtPeakEnd - committedBefore) {
        return Math.max(0, (s.atMillis() - peakEnd) / 1000.0);
      }
    }
    return -1;
  }

  private double t(Sampler.Sample s) {
    return (s.atMillis() - startMillis) / 1000.0;
  }

  private List<Sampler.Sample> phase(String phase) {
    if (startMillis < 0) {
      return List.of();
    }
    return sampler.samples.stream()
        .filter(s -> t(s) > 0.5)
        .filter(
            s -> {
              boolean loadOver = loadEndMillis > 0 && s.atMillis() > loadEndMillis;
              String p = loadOver ? "drain" : profile.phaseAt(t(s) - 0.5);
              return p.equals(phase);
            })
        .toList();
  }

  private void timeline(StringBuilder md) {
    List<Sampler.Sample> in =
        sampler.samples.stream().filter(s -> startMillis > 0 && t(s) > 0.5).toList();
    if (in.isEmpty()) {
      return;
    }
    int bucket = (int) Math.max(1, Math.ceil(in.size() / 40.0));
    md.append(
        String.format(
            Locale.ROOT,
            "%n## Timeline (%d s per row; rates are averages, lag at the row's end, p99 the worst second)%n%n",
            bucket));
    md.append(
        "| t | phase | offered/s | ingest/s | WebSocket/s | callback/s | lag WS | lag callback | p99 WS ms | p99 callback ms | CPU cores | heap MB |\n");
    md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < in.size(); i += bucket) {
      List<Sampler.Sample> b = in.subList(i, Math.min(in.size(), i + bucket));
      Sampler.Sample end = b.get(b.size() - 1);
      boolean over = loadEndMillis > 0 && end.atMillis() > loadEndMillis;
      md.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %,.0f | %,.0f | %,.0f | %,.0f | %,d | %,d | %s | %s | %.2f | %,d |%n",
              clock(end),
              over ? "drain" : profile.phaseAt(t(end) - 0.5),
              b.stream().mapToDouble(s -> profile.rateAt(t(s) - 0.5)).average().orElse(0),
              b.stream().mapToDouble(Sampler.Sample::ingestRate).average().orElse(0),
              b.stream().mapToDouble(Sampler.Sample::wsRate).average().orElse(0),
              b.stream().mapToDouble(Sampler.Sample::cbRate).average().orElse(0),
              end.wsLag(),
              end.cbLag(),
              ms(b.stream().mapToLong(Sampler.Sample::wsP99Micros).max().orElse(-1)),
              ms(b.stream().mapToLong(Sampler.Sample::cbP99Micros).max().orElse(-1)),
              b.stream().mapToDouble(Sampler.Sample::cpuCores).average().orElse(0),
              b.stream().mapToLong(Sampler.Sample::heapBytes).max().orElse(0) >> 20));
    }
  }

  private void writeCsv() throws IOException {
    StringBuilder csv =
        new StringBuilder(
            "t_s,phase,offered_per_s,committed,ingest_per_s,ws_applied,ws_per_s,ws_lag,ws_p99_ms,"
                + "callback_applied,callback_per_s,callback_lag,callback_p99_ms,shed_requests,gateway_cpu_cores,machine_cpu_cores,gateway_heap_mb\n");
    for (Sampler.Sample s : sampler.samples) {
      double t = startMillis < 0 ? 0 : t(s);
      boolean over = loadEndMillis > 0 && s.atMillis() > loadEndMillis;
      csv.append(
          String.format(
              Locale.ROOT,
              "%.1f,%s,%.0f,%d,%.0f,%d,%.0f,%d,%s,%d,%.0f,%d,%s,%d,%.2f,%.2f,%d%n",
              t,
              startMillis < 0 || t <= 0 ? "setup" : over ? "drain" : profile.phaseAt(t - 0.5),
              t <= 0 ? 0 : profile.rateAt(t - 0.5),
              s.committed() - committedBefore,
              s.ingestRate(),
              s.wsApplied(),
              s.wsRate(),
              s.wsLag(),
              ms(s.wsP99Micros()),
              s.cbApplied(),
              s.cbRate(),
              s.cbLag(),
              ms(s.cbP99Micros()),
              s.shed(),
              s.cpuCores(),
              s.machineCores(),
              s.heapBytes() >> 20));
    }
    Files.writeString(out.resolve("timeline.csv"), csv.toString());
  }

  private String gatlingReport() {
    Path dir = out.resolve("gatling");
    try (Stream<Path> runs = Files.exists(dir) ? Files.list(dir) : Stream.empty()) {
      return runs.map(p -> p.resolve("index.html"))
          .filter(Files::exists)
          .map(p -> "`" + out.relativize(p) + "`")
          .findFirst()
          .orElse("not written (see gatling.log)");
    } catch (IOException e) {
      return "not found (" + e.getMessage() + ")";
    }
  }

  private String gitRevision() {
    try {
      Process p =
          new ProcessBuilder("git", "-C", root.toString(), "describe", "--always", "--dirty")
              .redirectErrorStream(true)
              .start();
      String rev = new String(p.getInputStream().readAllBytes()).trim();
      return p.waitFor(5, TimeUnit.SECONDS) && p.exitValue() == 0
          ? "`" + rev + "`"
          : "(unknown revision)";
    } catch (IOException | InterruptedException e) {
      return "(unknown revision)";
    }
  }

  private static long totalMemoryMb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      // not Linux
    }
    return Runtime.getRuntime().maxMemory() >> 20;
  }

  private static void latency(StringBuilder md, String what, Histogram h) {
    if (h.getTotalCount() == 0) {
      md.append("| ").append(what).append(" | 0 | - | - | - | - |\n");
      return;
    }
    md.append(
        String.format(
            Locale.ROOT,
            "| %s | %,d | %s | %s | %s | %s |%n",
            what,
            h.getTotalCount(),
            ms(h.getValueAtPercentile(50)),
            ms(h.getValueAtPercentile(99)),
            ms(h.getValueAtPercentile(99.9)),
            ms(h.getMaxValue())));
  }

  private static void row(StringBuilder md, String what, long ws, long cb) {
    md.append(String.format(Locale.ROOT, "| %s | %,d | %,d |%n", what, ws, cb));
  }

  private static void target(StringBuilder md, String target, String measured, boolean met) {
    md.append("| ")
        .append(target)
        .append(" | ")
        .append(measured)
        .append(" | ")
        .append(met ? "yes" : "**no**")
        .append(" |\n");
  }

  private static double[] values(List<Sampler.Sample> in, ToDoubleFunction<Sampler.Sample> f) {
    return in.stream().mapToDouble(f).sorted().toArray();
  }

  /** The {@code p}-th percentile (nearest rank) of sorted values; 0 if none. */
  static double pct(double[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    double[] v = sorted.clone();
    Arrays.sort(v);
    int rank = (int) Math.ceil(p / 100 * v.length);
    return v[Math.max(0, Math.min(v.length - 1, rank - 1))];
  }

  private String clock(Sampler.Sample s) {
    return Drill.clock(Math.max(0, t(s)));
  }

  private static String ms(long micros) {
    return micros < 0 ? "-" : String.format(Locale.ROOT, "%.1f", micros / 1000.0);
  }

  private static String dur(double s) {
    return String.format(Locale.ROOT, "%.0f s", s);
  }

  private static String number(double d) {
    return String.format(
        Locale.ROOT,
        "%s of the full population",
        d == Math.rint(d) ? String.format("%.0fx", d) : Double.toString(d));
  }
}
