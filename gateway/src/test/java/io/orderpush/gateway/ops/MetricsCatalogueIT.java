package io.orderpush.gateway.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamClient;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The metrics catalogue (docs/metrics.md) is the registry: a real gateway is driven through ingest,
 * a WebSocket consumer, callback apps that succeed, fail and are gone, an app connected nowhere and
 * a replay, so that meters registered on first use exist; then {@code /metrics} and the catalogue
 * must name the same gateway_* metrics with the same types and labels, and every query of the
 * Grafana dashboard and the alert rules must name a catalogued metric.
 */
class MetricsCatalogueIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final String ADMIN = TestGateway.ADMIN_TOKEN;
  static TestGateway gw;
  static Vertx vertx;
  static HttpServer receiver;
  static final List<String> apps = new ArrayList<>();
  static Map<String, Exposition.Family> scraped;
  static MetricsCatalogue catalogue;
  static String idleApp;
  static String wsApp;

  @BeforeAll
  static void startAndExercise() throws Exception {
    catalogue = MetricsCatalogue.read(MetricsCatalogue.repoFile("docs/metrics.md"));
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_FAILING_AFTER_MS", "1000",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "100",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "200",
                "GATEWAY_METRICS_LAG_INTERVAL_MS", "200"));
    vertx = Vertx.vertx();
    receiver =
        vertx
            .createHttpServer()
            .requestHandler(
                req ->
                    req.body()
                        .onComplete(
                            b ->
                                req.response()
                                    .setStatusCode(
                                        switch (req.path()) {
                                          case "/ok" -> 200;
                                          case "/gone" -> 410;
                                          default -> 500;
                                        })
                                    .end()))
            .listen(0, "127.0.0.1")
            .toCompletionStage()
            .toCompletableFuture()
            .join();
    exercise();
    scraped = Exposition.parse(gw.send("GET", "/metrics", null, null).body());
  }

  @AfterAll
  static void stop() {
    try {
      for (String id : apps) {
        gw.gateway
            .pool()
            .preparedQuery("DELETE FROM apps WHERE app_id = $1")
            .execute(Tuple.of(UUID.fromString(id)))
            .toCompletionStage()
            .toCompletableFuture()
            .join();
      }
    } finally {
      gw.close();
      vertx.close().toCompletionStage().toCompletableFuture().join();
    }
  }

  /** Everything that registers meters on first use. */
  static void exercise() throws Exception {
    String mWs = TestServices.uniqueMerchant("metrics-ws");
    String mCb = TestServices.uniqueMerchant("metrics-cb");
    String mIdle = TestServices.uniqueMerchant("metrics-idle");

    // A WebSocket consumer that acks everything.
    JsonObject ws = app(new JsonObject().put("mode", "websocket"));
    grant(mWs, ws.getString("appId"));
    AtomicReference<StreamClient> client = new AtomicReference<>();
    java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();
    client.set(
        StreamClient.connect(
                vertx,
                gw.port,
                ws.getString("token"),
                (m, events) -> {
                  received.addAndGet(events.size());
                  long last = events.getJsonObject(events.size() - 1).getLong("seq");
                  client.get().ack(m, last);
                })
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS));

    // Callback apps: one that answers 200, one 500 (retries, then failing), one 410 (suspended).
    String ok = app(callback("/ok")).getString("appId");
    String failing = app(callback("/fail")).getString("appId");
    String gone = app(callback("/gone")).getString("appId");
    grant(mCb, ok);
    grant(mCb, failing);
    grant(mCb, gone);
    // An app connected nowhere, with events waiting: the lag series.
    String idle = app(new JsonObject().put("mode", "websocket")).getString("appId");
    idleApp = idle;
    wsApp = ws.getString("appId");
    grant(mIdle, idle);

    ingest(mWs, "e-1", "e-2", "e-3");
    ingest(mCb, "e-1", "e-2");
    ingest(mIdle, "e-1");
    ingest(mWs, "e-1"); // a duplicate
    assertThat(gw.send("POST", "/v1/events", TestGateway.INGEST_TOKEN, "[{}]").statusCode())
        .isEqualTo(400);
    // A failed authentication: the auth meters register on first use.
    assertThat(gw.send("GET", "/v1/apps", "not-the-admin-token-0123456789", null).statusCode())
        .isEqualTo(401);

    Await.until("the WebSocket consumer got its events", WAIT, () -> received.get() >= 3);
    // Replay, with the WebSocket app's token.
    HttpResponse<String> replay =
        gw.send("GET", "/v1/merchants/" + mWs + "/events?fromSeq=1", ws.getString("token"), null);
    assertThat(replay.statusCode()).as(replay.body()).isEqualTo(200);
    Await.until(
        "the failing endpoint failing and the gone one suspended",
        WAIT,
        () ->
            state(failing).equals("failing")
                && state(gone).equals("suspended")
                && state(ok).equals("active"));
    Await.until(
        "lag sampled for the app connected nowhere",
        WAIT,
        () -> gw.send("GET", "/metrics", null, null).body().contains("app=\"" + idle + "\""));
    // The channel states are sampled every 5 s.
    Await.until(
        "channel states sampled",
        WAIT,
        () -> gw.send("GET", "/metrics", null, null).body().contains("state=\"caught_up\""));
    client.get().close();
    NoStuckChannels.check(gw);
  }

  static JsonObject callback(String path) {
    return new JsonObject()
        .put("mode", "callback")
        .put("url", "http://127.0.0.1:" + receiver.actualPort() + path);
  }

  static JsonObject app(JsonObject delivery) {
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            ADMIN,
            new JsonObject().put("name", "metrics").put("delivery", delivery).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    apps.add(app.getString("appId"));
    return app;
  }

  static void grant(String m, String appId) {
    HttpResponse<String> r =
        gw.send("PUT", "/v1/merchants/" + m + "/grants/" + appId, ADMIN, "{\"scopes\":[]}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  static void ingest(String m, String... ids) {
    List<JsonObject> events = new ArrayList<>();
    for (String id : ids) {
      events.add(Events.event(m, id));
    }
    HttpResponse<String> r = gw.ingest(Events.batch(events));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  static String state(String appId) {
    HttpResponse<String> r = gw.send("GET", "/v1/apps/" + appId + "/impact", ADMIN, null);
    return String.valueOf(new JsonObject(r.body()).getString("endpointState"));
  }

  /** The value of the series of {@code name} whose labels include {@code app="id"}, if any. */
  static java.util.OptionalDouble appSeries(String text, String name, String appId) {
    for (String line : text.split("\n")) {
      if (line.startsWith(name + "{") && line.contains("app=\"" + appId + "\"")) {
        return java.util.OptionalDouble.of(
            Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)));
      }
    }
    return java.util.OptionalDouble.empty();
  }

  @Test
  void shouldReportTheLagAgeOfAnAppConnectedNowhereAndNoneForOneCaughtUp() {
    String text = gw.send("GET", "/metrics", null, null).body();
    java.util.OptionalDouble age = appSeries(text, "gateway_delivery_lag_seconds", idleApp);
    assertThat(age).as("age of the idle app's oldest event").isPresent();
    assertThat(age.getAsDouble()).isPositive().isLessThan(120);
    assertThat(appSeries(text, "gateway_delivery_lag_app_events", idleApp)).hasValue(1.0);
    assertThat(appSeries(text, "gateway_delivery_lag_seconds", wsApp))
        .as("the consumer that acked everything")
        .isEmpty();
    double oldest = Scrape.value(gw, "gateway_delivery_lag_oldest_seconds");
    assertThat(oldest).isGreaterThanOrEqualTo(age.getAsDouble());
  }

  @Test
  void shouldLabelOnlyTheConfiguredNumberOfAppsWithTheOldestEvents() {
    try (TestGateway small =
        TestGateway.start(
            Map.of("GATEWAY_METRICS_LAG_APPS", "1", "GATEWAY_METRICS_LAG_INTERVAL_MS", "200"))) {
      Await.until(
          "lag sampled on the second node",
          WAIT,
          () -> Scrape.value(small, "gateway_delivery_lag_apps_behind") >= 3);
      long series =
          small
              .send("GET", "/metrics", null, null)
              .body()
              .lines()
              .filter(l -> l.startsWith("gateway_delivery_lag_seconds{"))
              .count();
      assertThat(series).as("apps behind: idle, failing, gone; labelled: 1").isEqualTo(1);
    }
  }

  @Test
  void shouldCatalogueEveryGatewayMetricTheRegistryExposesAndNoOther() throws Exception {
    Files.createDirectories(Path.of("target"));
    Files.writeString(
        Path.of("target/metrics-catalogue-scrape.txt"),
        gw.send("GET", "/metrics", null, null).body());
    Set<String> exposed = new TreeSet<>();
    scraped.keySet().stream().filter(n -> n.startsWith("gateway_")).forEach(exposed::add);
    Set<String> documented = new TreeSet<>(catalogue.metrics().keySet());

    Set<String> undocumented = new TreeSet<>(exposed);
    undocumented.removeAll(documented);
    Set<String> gone = new TreeSet<>(documented);
    gone.removeAll(exposed);
    Map<String, Set<String>> drift = new TreeMap<>();
    if (!undocumented.isEmpty()) {
      drift.put("exposed on /metrics, missing from docs/metrics.md (add a row)", undocumented);
    }
    if (!gone.isEmpty()) {
      drift.put(
          "in docs/metrics.md, not exposed by a running gateway (renamed or removed? or exercise"
              + " it in this test)",
          gone);
    }
    assertThat(drift).as("registry and catalogue differ").isEmpty();
  }

  @Test
  void shouldDocumentEachMetricWithItsTypeAndLabels() {
    Map<String, String> wrong = new TreeMap<>();
    catalogue
        .metrics()
        .forEach(
            (name, entry) -> {
              Exposition.Family f = scraped.get(name);
              if (f == null) {
                return; // reported by the drift test
              }
              if (!f.type().equals(entry.type()) || !f.labels().equals(entry.labels())) {
                wrong.put(
                    name,
                    "exposed as "
                        + f.type()
                        + " "
                        + f.labels()
                        + ", catalogued as "
                        + entry.type()
                        + " "
                        + entry.labels());
              }
            });
    assertThat(wrong).as("docs/metrics.md rows that disagree with /metrics").isEmpty();
  }

  @Test
  void shouldExposeEveryCataloguedGroupAndNothingOutsideTheGroups() {
    for (String group : catalogue.groups()) {
      assertThat(scraped.keySet())
          .as("group " + group + "* in docs/metrics.md")
          .anyMatch(n -> n.startsWith(group));
    }
    assertThat(scraped.keySet())
        .as("metrics neither gateway_* nor in a catalogued group")
        .allMatch(
            n -> n.startsWith("gateway_") || catalogue.groups().stream().anyMatch(n::startsWith));
  }

  @Test
  void shouldNameOnlyCataloguedMetricsInTheDashboardAndTheAlertRules() throws Exception {
    List<String> dashboard =
        QueryCheck.dashboardExprs(MetricsCatalogue.repoFile("docs/ops/dashboard.json"));
    List<String> alerts = QueryCheck.ruleExprs(MetricsCatalogue.repoFile("docs/ops/alerts.yml"));
    assertThat(dashboard).as("dashboard queries").isNotEmpty();
    assertThat(alerts).as("alert expressions").isNotEmpty();
    List<String> unknown = new ArrayList<>();
    QueryCheck.unknownNames(dashboard, catalogue, scraped.keySet())
        .forEach(p -> unknown.add("docs/ops/dashboard.json: " + p));
    QueryCheck.unknownNames(alerts, catalogue, scraped.keySet())
        .forEach(p -> unknown.add("docs/ops/alerts.yml: " + p));
    assertThat(unknown).as("queries naming no metric or one not in docs/metrics.md").isEmpty();
  }
}
