package io.orderpush.gateway.replay;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Replays are bounded per app and stop when the merchant revokes the app. */
class ReplayLimitsIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;
  // HTTP/1.1: each replay on its own connection, so closing its body ends exactly that replay.
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  final List<String> apps = new ArrayList<>();

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of("GATEWAY_REPLAY_MAX_CONCURRENT_PER_APP", "2"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @AfterEach
  void cleanUp() {
    NoStuckChannels.check(gw);
    TestApps.deleteRows(gw, apps);
  }

  /** A WebSocket app granted {@code merchant}; returns {appId, token}. */
  String[] app(String merchant) {
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            "{\"name\":\"replayer\",\"delivery\":{\"mode\":\"websocket\"}}");
    JsonObject body = new JsonObject(r.body());
    apps.add(body.getString("appId"));
    assertThat(
            gw.send(
                    "PUT",
                    "/v1/merchants/" + merchant + "/grants/" + body.getString("appId"),
                    TestGateway.ADMIN_TOKEN,
                    "{}")
                .statusCode())
        .isEqualTo(200);
    return new String[] {body.getString("appId"), body.getString("token")};
  }

  HttpResponse<InputStream> replay(String token, String merchant) throws Exception {
    return http.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + gw.port + "/v1/merchants/" + merchant + "/events"))
            .header("Authorization", "Bearer " + token)
            .build(),
        HttpResponse.BodyHandlers.ofInputStream());
  }

  void ingest(String merchant, int requests, int perRequest, int padding) {
    for (int r = 0; r < requests; r++) {
      List<JsonObject> events = new ArrayList<>();
      for (int i = 0; i < perRequest; i++) {
        JsonObject e = Events.event(merchant, "e-" + r + "-" + i);
        e.getJsonObject("data").put("note", "x".repeat(padding));
        events.add(e);
      }
      HttpResponse<String> resp = gw.ingest(Events.batch(events));
      assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
    }
  }

  @Test
  void shouldCutAReplayInProgressShortWhenTheMerchantRevokesTheApp() throws Exception {
    String m = TestServices.uniqueMerchant("revoke-replay");
    ingest(m, 30, 1000, 2000); // about 66 MB of NDJSON: far more than sockets buffer
    String[] app = app(m);
    double revokedBefore = Scrape.value(gw, "gateway_replay_revoked_total");
    HttpResponse<InputStream> resp = replay(app[1], m);
    assertThat(resp.statusCode()).isEqualTo(200);
    int lines = 0;
    boolean cut = false;
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
      for (; lines < 100; lines++) {
        assertThat(in.readLine()).isNotNull();
      }
      TestApps.revoke(gw, m, app[0]);
      while (in.readLine() != null) {
        lines++;
      }
    } catch (IOException e) {
      cut = true; // the stream was reset: the honest end of a replay that may not go on
    }
    assertThat(lines).as("events read after the revoke").isLessThan(30_000);
    assertThat(cut).as("the stream ends in an error, not as if complete").isTrue();
    assertThat(Scrape.value(gw, "gateway_replay_revoked_total")).isGreaterThan(revokedBefore);
  }

  @Test
  void shouldRefuseAReplayPastTheAppsLimitWith429AndAdmitOtherApps() throws Exception {
    String m = TestServices.uniqueMerchant("replay-limit");
    ingest(m, 20, 1000, 2000);
    String[] busy = app(m);
    String[] other = app(m);
    // Two replays that are never read: they stay open, holding the app's two places.
    HttpResponse<InputStream> first = replay(busy[1], m);
    HttpResponse<InputStream> second = replay(busy[1], m);
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(second.statusCode()).isEqualTo(200);

    HttpResponse<InputStream> third = replay(busy[1], m);
    assertThat(third.statusCode()).isEqualTo(429);
    assertThat(third.headers().firstValue("Retry-After")).isPresent();
    assertThat(new String(third.body().readAllBytes(), StandardCharsets.UTF_8))
        .contains("too_many_replays");

    HttpResponse<InputStream> otherApp = replay(other[1], m);
    assertThat(otherApp.statusCode()).as("another app's replay is not refused").isEqualTo(200);
    otherApp.body().close();

    first.body().close(); // ends one: its place frees
    Await.until(
        "a replay admitted again after one ended",
        WAIT,
        () -> {
          try {
            HttpResponse<InputStream> again = replay(busy[1], m);
            again.body().close();
            return again.statusCode() == 200;
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        });
    second.body().close();
  }
}
