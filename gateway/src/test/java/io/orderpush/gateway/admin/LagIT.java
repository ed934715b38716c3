package io.orderpush.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Lag and impact come from what is stored: the same on every node, connected or not. */
class LagIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final String ADMIN = TestGateway.ADMIN_TOKEN;
  static TestGateway gw;
  static Vertx vertx;
  static HttpServer failing;
  final List<String> apps = new ArrayList<>();

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_FAILING_AFTER_MS", "1000",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "100",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "200"));
    vertx = Vertx.vertx();
    failing =
        vertx
            .createHttpServer()
            .requestHandler(
                req -> req.body().onComplete(b -> req.response().setStatusCode(500).end()))
            .listen(0, "127.0.0.1")
            .toCompletionStage()
            .toCompletableFuture()
            .join();
  }

  @AfterAll
  static void stop() {
    gw.close();
    vertx.close().toCompletionStage().toCompletableFuture().join();
  }

  @AfterEach
  void cleanUp() {
    TestApps.deleteRows(gw, apps);
  }

  String app(JsonObject delivery) {
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            ADMIN,
            new JsonObject().put("name", "lag").put("delivery", delivery).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    String id = new JsonObject(r.body()).getString("appId");
    apps.add(id);
    return id;
  }

  void grant(String m, String appId) {
    assertThat(
            gw.send(
                    "PUT",
                    "/v1/merchants/" + m + "/grants/" + appId,
                    ADMIN,
                    "{\"start\":\"earliest\"}")
                .statusCode())
        .isEqualTo(200);
  }

  /** {@code n} events of {@code m}, two events an order. */
  void ingest(String m, int n) {
    List<JsonObject> events = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      events.add(Events.event(m, "e-" + i).put("orderId", "o-" + ((i + 1) / 2)));
    }
    assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
  }

  static JsonObject get(TestGateway node, String path) {
    HttpResponse<String> r = node.send("GET", path, ADMIN, null);
    assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
    return new JsonObject(r.body());
  }

  @Test
  void shouldShowTheFullLagOfAnAppConnectedNowhereLargestFirstWithOldestPendingTime() {
    String m1 = TestServices.uniqueMerchant("lag");
    String m2 = TestServices.uniqueMerchant("lag");
    String idle = app(new JsonObject().put("mode", "websocket"));
    grant(m1, idle);
    grant(m2, idle);
    ingest(m1, 5);
    ingest(m2, 8);

    JsonArray items = get(gw, "/v1/lag?appId=" + idle).getJsonArray("items");
    assertThat(items).hasSize(2);
    JsonObject first = items.getJsonObject(0);
    assertThat(first.getString("merchantId")).isEqualTo(m2);
    assertThat(first.getLong("headSeq")).isEqualTo(8);
    assertThat(first.getLong("cursor")).isZero();
    assertThat(first.getLong("lag")).isEqualTo(8);
    assertThat(first.getString("oldestPendingAt")).isNotNull();
    assertThat(first.getString("state")).isEqualTo("active");
    assertThat(items.getJsonObject(1).getLong("lag")).isEqualTo(5);

    // Paged: one at a time, the same order.
    JsonObject page1 = get(gw, "/v1/lag?appId=" + idle + "&limit=1");
    assertThat(page1.getJsonArray("items").getJsonObject(0).getString("merchantId")).isEqualTo(m2);
    JsonObject page2 =
        get(gw, "/v1/lag?appId=" + idle + "&limit=1&after=" + page1.getString("next"));
    assertThat(page2.getJsonArray("items").getJsonObject(0).getString("merchantId")).isEqualTo(m1);

    JsonObject impact = get(gw, "/v1/apps/" + idle + "/impact");
    assertThat(impact.getInteger("merchantsBehind")).isEqualTo(2);
    assertThat(impact.getLong("pendingEvents")).isEqualTo(13);
    assertThat(impact.getLong("pendingOrders")).as("o-1..o-3 of m1, o-1..o-4 of m2").isEqualTo(7);
    assertThat(impact.getBoolean("pendingOrdersExact")).isTrue();
    assertThat(impact.getString("oldestPendingAt")).isNotNull();
  }

  @Test
  void shouldShowWhatAFailingEndpointHoldsUpAndTheSameFiguresOnAnotherNode() {
    String m = TestServices.uniqueMerchant("lag-cb");
    String cb =
        app(
            new JsonObject()
                .put("mode", "callback")
                .put("url", "http://127.0.0.1:" + failing.actualPort() + "/hooks"));
    grant(m, cb);
    ingest(m, 6);
    Await.until(
        "the endpoint failing",
        WAIT,
        () -> "failing".equals(get(gw, "/v1/apps/" + cb + "/impact").getString("endpointState")));
    JsonObject impact = get(gw, "/v1/apps/" + cb + "/impact");
    assertThat(impact.getInteger("merchantsBehind")).isEqualTo(1);
    assertThat(impact.getLong("pendingEvents")).isEqualTo(6);
    assertThat(impact.getLong("pendingOrders")).isEqualTo(3);
    JsonArray here = get(gw, "/v1/lag?appId=" + cb).getJsonArray("items");
    assertThat(here.getJsonObject(0).getString("state")).isEqualTo("failing");

    try (TestGateway other = TestGateway.start(Map.of("GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1"))) {
      assertThat(get(other, "/v1/lag?appId=" + cb).getJsonArray("items")).isEqualTo(here);
      JsonObject there = get(other, "/v1/apps/" + cb + "/impact");
      assertThat(there.getLong("pendingEvents")).isEqualTo(6);
      assertThat(there.getLong("pendingOrders")).isEqualTo(3);
    }
  }

  @Test
  void shouldLeaveOutCaughtUpChannelsAtMinLagOne() {
    String m = TestServices.uniqueMerchant("lag-none");
    String caughtUp = app(new JsonObject().put("mode", "websocket"));
    grant(m, caughtUp); // granted after nothing: nothing pending
    JsonArray all = get(gw, "/v1/lag?appId=" + caughtUp).getJsonArray("items");
    assertThat(all).hasSize(1);
    assertThat(all.getJsonObject(0).getLong("lag")).isZero();
    assertThat(get(gw, "/v1/lag?appId=" + caughtUp + "&minLag=1").getJsonArray("items")).isEmpty();
    JsonObject impact = get(gw, "/v1/apps/" + caughtUp + "/impact");
    assertThat(impact.getInteger("merchantsBehind")).isZero();
    assertThat(impact.getLong("pendingOrders")).isZero();
  }

  @Test
  void shouldRefuseBadParametersWith400AndUnknownAppsWith404() {
    for (String q :
        List.of(
            "appId=nope",
            "limit=0",
            "limit=1001",
            "minLag=-1",
            "merchantId=%20bad",
            "after=garbage",
            "after=" + java.util.Base64.getUrlEncoder().encodeToString("x|y|z".getBytes()))) {
      HttpResponse<String> r = gw.send("GET", "/v1/lag?" + q, ADMIN, null);
      assertThat(r.statusCode()).as(q + ": " + r.body()).isEqualTo(400);
    }
    assertThat(
            gw.send("GET", "/v1/apps/" + UUID.randomUUID() + "/impact", ADMIN, null).statusCode())
        .isEqualTo(404);
    assertThat(gw.send("GET", "/v1/lag", null, null).statusCode()).isEqualTo(401);
  }
}
