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
import java.io.IOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Replays paced by the node's replay rate: a page over the rate waits, and a replay whose first
 * page waited answers with a status when it may not go on (nothing was sent yet), not a reset.
 */
class ReplayPacingIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  // 33 events a second, so a first page of 100 waits (100 - 33) / 33 = 2 s for its turn: time
  // for a test to see the replay wait and make its change (a few requests) before the page goes.
  static final int RATE = 33;
  static TestGateway gw;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  final List<String> apps = new ArrayList<>();

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of("GATEWAY_REPLAY_MAX_EVENTS_PER_SECOND", Integer.toString(RATE)));
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
    TestApps.Created app = TestApps.create(gw, "paced", null);
    apps.add(app.appId());
    TestApps.grant(gw, merchant, app.appId(), "{}");
    return new String[] {app.appId(), app.token()};
  }

  CompletableFuture<HttpResponse<String>> replay(String token, String merchant, int limit) {
    return http.sendAsync(
        HttpRequest.newBuilder(
                URI.create(
                    "http://127.0.0.1:"
                        + gw.port
                        + "/v1/merchants/"
                        + merchant
                        + "/events?limit="
                        + limit))
            .header("Authorization", "Bearer " + token)
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  void ingest(String merchant, int events) {
    List<JsonObject> batch = new ArrayList<>();
    for (int i = 0; i < events; i++) {
      batch.add(Events.event(merchant, "p-" + i));
    }
    HttpResponse<String> resp = gw.ingest(Events.batch(batch));
    assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
  }

  /** Waits until a replay's page waits for the node's rate (its first page: nothing sent yet). */
  void awaitPaced() {
    Await.until(
        "a replay waiting for the node's replay rate",
        WAIT,
        () -> Scrape.value(gw, "gateway_replay_paced") >= 1);
  }

  /**
   * Starts a replay of 100 events of {@code m} (its first page waits for the rate), runs {@code
   * change} while it waits, and returns the error code of the JSON {@code status} it answers.
   */
  String refusedWhileWaiting(String m, String token, int status, Runnable change) throws Exception {
    // A raw socket: the JDK's client sends an idempotent GET again when its connection closes
    // before any answer, which hid the reset this test is about.
    try (Socket socket = new Socket("127.0.0.1", gw.port)) {
      socket.setSoTimeout((int) WAIT.toMillis());
      socket
          .getOutputStream()
          .write(
              ("GET /v1/merchants/"
                      + m
                      + "/events?limit=100 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                      + token
                      + "\r\nConnection: close\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      CompletableFuture<String> answer =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                } catch (IOException e) {
                  return "read failed: " + e; // a reset: no status line
                }
              });
      awaitPaced();
      assertThat(answer).as("the paced replay has not answered yet").isNotDone();
      change.run();
      // Before the fix the connection was reset here: no status line at all.
      String raw = answer.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      assertThat(raw).as("the answer on the wire").startsWith("HTTP/1.1 " + status);
      String head = raw.substring(0, raw.indexOf("\r\n\r\n")).toLowerCase(Locale.ROOT);
      assertThat(head).contains("content-type: application/json").doesNotContain("chunked");
      return new JsonObject(raw.substring(raw.indexOf("\r\n\r\n") + 4)).getString("error");
    }
  }

  @Test
  void shouldAnswer403NotResetWhenTheGrantIsRevokedWhileTheFirstPageWaitsForTheRate()
      throws Exception {
    String m = TestServices.uniqueMerchant("paced-revoke");
    ingest(m, 100);
    String[] app = app(m);
    String code = refusedWhileWaiting(m, app[1], 403, () -> TestApps.revoke(gw, m, app[0]));
    assertThat(code).isEqualTo("forbidden");
  }

  @Test
  void shouldAnswerAppFrozenWhenTheAppIsFrozenWhileTheFirstPageWaitsForTheRate() throws Exception {
    String m = TestServices.uniqueMerchant("paced-freeze");
    ingest(m, 100);
    String[] app = app(m);
    String code = refusedWhileWaiting(m, app[1], 403, () -> TestApps.freeze(gw, app[0]));
    // as a replay of a frozen app is refused at the door (../shared/PRODUCT.md)
    assertThat(code).isEqualTo("app_frozen");
  }

  @Test
  void shouldAnswerTokenExpiredWhenTwoRotationsReplaceItsTokenWhileTheFirstPageWaitsForTheRate()
      throws Exception {
    String m = TestServices.uniqueMerchant("paced-rotate");
    ingest(m, 100);
    String[] app = app(m);
    String code =
        refusedWhileWaiting(
            m,
            app[1],
            401,
            () -> {
              // the first keeps the replay's token valid for its grace period; the second ends it
              TestApps.rotateToken(gw, app[0]);
              TestApps.rotateToken(gw, app[0]);
            });
    assertThat(code).isEqualTo("token_expired");
  }

  @Test
  void shouldStreamAPacedReplayWholeOnceItsTurnComes() throws Exception {
    String m = TestServices.uniqueMerchant("paced-whole");
    ingest(m, 100);
    String[] app = app(m);
    CompletableFuture<HttpResponse<String>> pending = replay(app[1], m, 100);
    awaitPaced();
    HttpResponse<String> resp = pending.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(resp.statusCode()).as(resp.body()).isEqualTo(200);
    List<String> lines = resp.body().lines().toList();
    assertThat(lines).hasSize(100);
    for (int i = 0; i < lines.size(); i++) {
      assertThat(new JsonObject(lines.get(i)).getLong("seq")).isEqualTo(i + 1L);
    }
    Await.until(
        "no replay waiting once it is done",
        WAIT,
        () -> Scrape.value(gw, "gateway_replay_paced") == 0);
  }
}
