package io.orderpush.drill;

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
  private final List<String> failures = new ArrayList<>();
  private final List<String> summary = new ArrayList<>();

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
    long committed = last.committed() - committedBefore;
    check(gatlingExit == 0, "Gatling exited with status " + gatlingExit + " (see gatling.log)");
    check(
        gatlingDone != null && gatlingDone.contains("exhausted=true"),
        "the load generator did not offer the whole population ("
            + (gatlingDone == null ? "no gatling-done file" : gatlingDone.replace('\n', ' '))
            + ")");
    check(
        committed == expected,
        "the gateway committed " + committed + " events, the population has " + expected);
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
            sampler.failedScrapes() > 0
                ? " (" + sampler.failedScrapes() + " metric scrapes failed)"
                : ""));

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
        .append("\n- `gateway.log` (when run by scripts/drill.sh)\n");
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
    failures.forEach(f -> summary.add("drill: FAILED: " + f));
    return failures.isEmpty();
  }

  private void outcome(String app, Verifier.Outcome o) {
    check(o.lost() == 0, app + ": " + o.lost() + " events lost");
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
