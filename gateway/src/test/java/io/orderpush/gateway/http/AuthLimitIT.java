package io.orderpush.gateway.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Events;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.testing.RawHttp;
import io.orderpush.gateway.testing.RawHttp.Response;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Failed authentication is limited per source address: each test speaks from its own loopback
 * address (127.0.0.x), so the addresses' counts stay apart.
 */
class AuthLimitIT {

  static final int MAX = 3;
  static TestGateway gw;
  static String appId;
  static String appToken;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_AUTH_MAX_FAILURES", "" + MAX, "GATEWAY_AUTH_FAILURE_WINDOW_MS", "60000"));
    JsonObject app =
        new JsonObject(
            gw.send(
                    "POST",
                    "/v1/apps",
                    TestGateway.ADMIN_TOKEN,
                    "{\"name\":\"limited\",\"delivery\":{\"mode\":\"websocket\"}}")
                .body());
    appId = app.getString("appId");
    appToken = app.getString("token");
  }

  @AfterAll
  static void stop() {
    gw.gateway
        .pool()
        .preparedQuery("DELETE FROM apps WHERE app_id = $1")
        .execute(Tuple.of(UUID.fromString(appId)))
        .toCompletionStage()
        .toCompletableFuture()
        .join();
    gw.close();
  }

  static Response get(String from, String path, String token) {
    return RawHttp.request(
        from,
        gw.port,
        "GET",
        path.getBytes(StandardCharsets.US_ASCII),
        token == null ? Map.of() : Map.of("Authorization", "Bearer " + token),
        null,
        10_000);
  }

  static Response ingest(String from, String token) {
    String m = TestServices.uniqueMerchant("limit");
    return RawHttp.request(
        from,
        gw.port,
        "POST",
        "/v1/events".getBytes(StandardCharsets.US_ASCII),
        Map.of("Authorization", "Bearer " + token, "Content-Type", "application/json"),
        Events.batch(List.of(Events.event(m, "e-1"))).getBytes(StandardCharsets.UTF_8),
        10_000);
  }

  static int upgrade(String from, String token) {
    return upgradeAnswer(from, token).status();
  }

  static Response upgradeAnswer(String from, String token) {
    try (var ws = RawHttp.WebSocketConnection.open(from, gw.port, "/v1/stream", token, 10_000)) {
      return ws.handshake;
    }
  }

  @Test
  void shouldAnswer429WithRetryAfterPastTheLimitEvenToTheRightTokenAndServeOtherAddresses() {
    String attacker = "127.0.0.2";
    for (int i = 0; i < MAX; i++) {
      assertThat(get(attacker, "/v1/apps", "wrong-token-" + i).status()).isEqualTo(401);
    }
    Response limited = get(attacker, "/v1/apps", "wrong-token-x");
    assertThat(limited.status()).isEqualTo(429);
    assertThat(Long.parseLong(limited.header("Retry-After"))).isBetween(1L, 60L);
    assertThat(new JsonObject(limited.body()).getString("error"))
        .isEqualTo("too_many_auth_failures");
    // A right guess is not told apart from a wrong one while the address is limited.
    assertThat(get(attacker, "/v1/apps", TestGateway.ADMIN_TOKEN).status()).isEqualTo(429);
    assertThat(ingest(attacker, TestGateway.INGEST_TOKEN).status()).isEqualTo(429);
    // an upgrade is refused like any other request: JSON error and Retry-After
    Response upgrade = upgradeAnswer(attacker, appToken);
    assertThat(upgrade.status()).isEqualTo(429);
    assertThat(Long.parseLong(upgrade.header("Retry-After"))).isBetween(1L, 60L);
    assertThat(new JsonObject(upgrade.body()).getString("error"))
        .isEqualTo("too_many_auth_failures");

    String honest = "127.0.0.3";
    assertThat(get(honest, "/v1/apps", TestGateway.ADMIN_TOKEN).status()).isEqualTo(200);
    assertThat(ingest(honest, TestGateway.INGEST_TOKEN).status()).isEqualTo(200);
    assertThat(get(honest, "/v1/channels", appToken).status()).isEqualTo(200);
    assertThat(upgrade(honest, appToken)).isEqualTo(101);
    assertThat(Scrape.value(gw, "gateway_auth_refused_total{realm=\"operator\"}"))
        .isGreaterThanOrEqualTo(2);
  }

  @Test
  void shouldCountFailuresOfEveryTokenAndTheWebSocketUpgradeTogether() {
    String from = "127.0.0.4";
    assertThat(ingest(from, "not-the-ingest-token").status()).isEqualTo(401);
    assertThat(get(from, "/v1/channels", "gwa_not-an-app-token").status()).isEqualTo(401);
    assertThat(upgrade(from, "gwa_not-an-app-token")).isEqualTo(401);
    // The limit is reached: the next attempt of any kind is refused.
    assertThat(upgrade(from, appToken)).isEqualTo(429);
    assertThat(get(from, "/v1/merchants/m-1/events", appToken).status()).isEqualTo(429);
  }

  @Test
  void shouldCountAMissingTokenAsAFailure() {
    String from = "127.0.0.5";
    for (int i = 0; i < MAX; i++) {
      assertThat(get(from, "/v1/apps", null).status()).isEqualTo(401);
    }
    assertThat(get(from, "/v1/apps", null).status()).isEqualTo(429);
  }

  @Test
  void shouldNotCountSuccessfulCalls() {
    String from = "127.0.0.6";
    for (int i = 0; i < 3 * MAX; i++) {
      assertThat(get(from, "/v1/apps", TestGateway.ADMIN_TOKEN).status()).isEqualTo(200);
    }
    assertThat(get(from, "/v1/apps", "wrong").status()).isEqualTo(401);
  }
}
