package io.orderpush.drill;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.synthetic.Population;
import io.orderpush.synthetic.Profile;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The verdict: what makes a drill fail, and what the report says about it. */
class ReportTest {

  @TempDir Path out;

  private final DrillConfig config =
      DrillConfig.from(Map.of("DRILL_SCALE", "tiny", "DRILL_TAIL_MERCHANTS", "1"));
  private final Population population = config.population();
  private final Profile profile = config.profile(population);

  private Report report(long committed) {
    Verifier ws = new Verifier("ws", population);
    Verifier cb = new Verifier("cb", population);
    Sampler sampler =
        new Sampler(null, URI.create("http://127.0.0.1:1"), ws, cb, 0, Report.LOW_LOAD_RATE);
    long start = 1_000_000;
    for (int t = 1; t <= (int) profile.totalS() + 2; t++) {
      long c = Math.min(committed, (long) profile.eventsBy(t));
      sampler.samples.add(
          new Sampler.Sample(
              start + t * 1000L, c, 0, c, c, 100, 100, 100, 5_000, 6_000, 0.5, 1.0, 100 << 20));
    }
    Report r = new Report(config, population, profile, sampler, out, out);
    r.startMillis = start;
    r.loadEndMillis = start + (long) profile.totalS() * 1000;
    r.caughtUpMillis = r.loadEndMillis + 1000;
    r.gatlingExit = 0;
    r.gatlingDone = "events=" + committed + "\nexhausted=true";
    return r;
  }

  private static Verifier.Outcome clean(long applied) {
    return new Verifier.Outcome(applied, 0, 0, 0, 0, 0, 0, 0, List.of());
  }

  @Test
  void aCleanDrillPassesAndSaysSo() throws Exception {
    long total = population.totalEvents();

    boolean passed = report(total).write(clean(total), clean(total));

    assertThat(passed).isTrue();
    String md = Files.readString(out.resolve("report.md"));
    assertThat(md)
        .startsWith("# Peak-day drill: PASSED")
        .contains("## Targets")
        .doesNotContain("## Failures");
    assertThat(Files.readAllLines(out.resolve("timeline.csv"))).hasSizeGreaterThan(5);
  }

  @Test
  void lostReorderedOrTwiceAppliedEventsFailTheDrill() throws Exception {
    long total = population.totalEvents();
    Verifier.Outcome lost =
        new Verifier.Outcome(
            total - 3, 3, 0, 0, 0, 0, 0, 0, List.of("drill-g01: last applied seq 7 of 10"));
    Verifier.Outcome twice =
        new Verifier.Outcome(total, 0, 0, 2, 1, 0, 0, 3, List.of("seq 5 delivered again"));

    boolean passed = report(total).write(lost, twice);

    assertThat(passed).isFalse();
    assertThat(Files.readString(out.resolve("report.md")))
        .startsWith("# Peak-day drill: FAILED")
        .contains(
            "WebSocket app: 3 events lost",
            "callback app: 2 events applied twice",
            "callback app: 1 events out of order");
  }

  @Test
  void aGatewayThatCommittedLessThanThePopulationFailsTheDrill() throws Exception {
    long total = population.totalEvents();

    boolean passed = report(total - 10).write(clean(total - 10), clean(total - 10));

    assertThat(passed).isFalse();
    assertThat(Files.readString(out.resolve("report.md")))
        .contains("the gateway committed " + (total - 10) + " events");
  }
}
