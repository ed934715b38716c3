package io.orderpush.drill;

import static io.gatling.javaapi.core.CoreDsl.StringBody;
import static io.gatling.javaapi.core.CoreDsl.doIf;
import static io.gatling.javaapi.core.CoreDsl.exec;
import static io.gatling.javaapi.core.CoreDsl.global;
import static io.gatling.javaapi.core.CoreDsl.nothingFor;
import static io.gatling.javaapi.core.CoreDsl.pause;
import static io.gatling.javaapi.core.CoreDsl.rampUsers;
import static io.gatling.javaapi.core.CoreDsl.scenario;
import static io.gatling.javaapi.core.CoreDsl.tryMax;
import static io.gatling.javaapi.http.HttpDsl.http;
import static io.gatling.javaapi.http.HttpDsl.status;

import io.gatling.javaapi.core.OpenInjectionStep;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;
import io.orderpush.synthetic.OrderStream;
import io.orderpush.synthetic.Population;
import io.orderpush.synthetic.Profile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The peak day's marketplace: an open model (arrivals do not wait for answers, as a marketplace's
 * order flow does not) of ingest requests, each one batch of whole orders from {@link OrderStream},
 * at the rate of the drill's {@link Profile}: normal, ramp to 100x, hold, ramp down, normal.
 *
 * <p>A request answered anything but 200 (503 when the gateway sheds load) is sent again, the same
 * body, after an exponential backoff with jitter, up to {@code DRILL_RETRIES} attempts: the event
 * ids make the retry idempotent. With several gateway nodes ({@code GATEWAY_URLS}) the virtual
 * users go round robin over them and each retry goes to the next node, so requests to a killed node
 * land on a live one. Settings come from the environment ({@link DrillConfig}); {@code
 * DRILL_STATE_DIR} receives {@code gatling-started} (epoch ms, when the injection starts) and
 * {@code gatling-done} (what was offered) for the drill tool. Run by scripts/drill.sh through
 * {@code mvn -pl perf/drill -am gatling:test}.
 */
public class PeakDaySimulation extends Simulation {

  private final DrillConfig config = DrillConfig.fromEnv();
  private final Population population = config.population();
  private final Profile profile = config.profile(population);
  private final OrderStream stream = config.stream(population);
  private final Path stateDir =
      Path.of(System.getenv().getOrDefault("DRILL_STATE_DIR", "target/drill-state"));

  {
    String token = System.getenv("GATEWAY_INGEST_TOKEN");
    if (token == null || token.isBlank()) {
      throw new IllegalStateException("GATEWAY_INGEST_TOKEN is not set");
    }
    List<String> ingestUrls =
        config.gatewayUrls().stream()
            .map(u -> u.toString().replaceAll("/+$", "") + "/v1/events")
            .toList();
    HttpProtocolBuilder protocol =
        http.authorizationHeader("Bearer " + token)
            .contentTypeHeader("application/json")
            .acceptHeader("application/json")
            .shareConnections()
            .disableWarmUp()
            .disableCaching();

    ScenarioBuilder marketplace =
        scenario("marketplace")
            .exec(
                session -> {
                  String body = stream.next();
                  return session.set("body", body == null ? "" : body);
                })
            .doIf(session -> !session.getString("body").isEmpty())
            .then(
                tryMax(config.retries(), "attempt")
                    .on(
                        doIf(session -> session.getInt("attempt") > 0)
                            .then(pause(PeakDaySimulation::backoff)),
                        exec(
                            http("ingest")
                                .post(session -> node(ingestUrls, session))
                                .body(StringBody(session -> session.getString("body")))
                                .check(status().is(200))))
                    .exitHereIfFailed());

    setUp(marketplace.injectOpen(injection()))
        .protocols(protocol)
        .maxDuration(Duration.ofSeconds((long) profile.totalS() + 600))
        .assertions(global().successfulRequests().percent().gt(0.0));
  }

  /**
   * The node an attempt goes to: round robin over the nodes by virtual user, each retry to the next
   * node (so a request refused by a dead node is sent to a live one, as a load balancer would).
   */
  static String node(List<String> urls, io.gatling.javaapi.core.Session session) {
    int attempt = session.contains("attempt") ? session.getInt("attempt") : 0;
    return urls.get((int) ((session.userId() + attempt) % urls.size()));
  }

  /** One step per second, each injecting that second's whole number of arrivals evenly. */
  private OpenInjectionStep[] injection() {
    List<OpenInjectionStep> steps = new ArrayList<>();
    for (int arrivals : profile.arrivalsPerSecond()) {
      steps.add(
          arrivals == 0
              ? nothingFor(Duration.ofSeconds(1))
              : rampUsers(arrivals).during(Duration.ofSeconds(1)));
    }
    return steps.toArray(OpenInjectionStep[]::new);
  }

  /**
   * Before attempt n (n >= 1): 0.5 s doubled per attempt, at most 16 s, times a random 0.5-1.5 (so
   * a crowd shed at once does not come back at once).
   */
  static Duration backoff(io.gatling.javaapi.core.Session session) {
    int attempt = session.getInt("attempt");
    double base = Math.min(16_000, 500 * Math.pow(2, Math.min(attempt - 1, 10)));
    return Duration.ofMillis(
        Math.round(base * (0.5 + java.util.concurrent.ThreadLocalRandom.current().nextDouble())));
  }

  @Override
  public void before() {
    write("gatling-started", Long.toString(System.currentTimeMillis()));
  }

  @Override
  public void after() {
    write(
        "gatling-done",
        "events="
            + stream.eventsEmitted()
            + "\nbatches="
            + stream.batchesEmitted()
            + "\nexhausted="
            + stream.exhausted()
            + "\n");
  }

  private void write(String name, String content) {
    try {
      Files.createDirectories(stateDir);
      Path tmp = stateDir.resolve(name + ".tmp");
      Files.writeString(tmp, content);
      Files.move(tmp, stateDir.resolve(name), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
