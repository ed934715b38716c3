package io.orderpush.gateway.replay;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.io.BufferedReader;
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
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ReplayIT {

  static final int TOTAL = 100_000;
  static TestGateway gw;
  static String merchant;
  static String token;
  static String otherToken;

  /** The apps the tests made, removed at the end. */
  static final java.util.List<String> apps = new java.util.concurrent.CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of());
    merchant = TestServices.uniqueMerchant("replay");
    for (int b = 0; b < TOTAL / 1000; b++) {
      int base = b * 1000;
      assertThat(
              gw.ingest(
                      Events.batch(
                          IntStream.range(base, base + 1000)
                              .mapToObj(i -> Events.event(merchant, "r-" + i))
                              .toList()))
                  .statusCode())
          .isEqualTo(200);
    }
    token = app(true);
    otherToken = app(false);
  }

  static String app(boolean granted) {
    JsonObject app =
        new JsonObject(
            gw.send(
                    "POST",
                    "/v1/apps",
                    TestGateway.ADMIN_TOKEN,
                    "{\"name\":\"replayer\",\"delivery\":{\"mode\":\"websocket\"}}")
                .body());
    apps.add(app.getString("appId"));
    if (granted) {
      gw.send(
          "PUT",
          "/v1/merchants/" + merchant + "/grants/" + app.getString("appId"),
          TestGateway.ADMIN_TOKEN,
          "{}");
    }
    return app.getString("token");
  }

  @AfterAll
  static void stop() {
    NoStuckChannels.check(gw);
    gw.close();
    io.orderpush.gateway.TestApps.deleteRows(apps);
  }

  static HttpResponse<InputStream> open(String token, String query) throws Exception {
    return HttpClient.newHttpClient()
        .send(
            HttpRequest.newBuilder(
                    URI.create(
                        "http://127.0.0.1:"
                            + gw.port
                            + "/v1/merchants/"
                            + merchant
                            + "/events"
                            + query))
                .header("Authorization", "Bearer " + token)
                .build(),
            HttpResponse.BodyHandlers.ofInputStream());
  }

  static List<Long> seqs(String query) throws Exception {
    HttpResponse<InputStream> r = open(token, query);
    assertThat(r.statusCode()).isEqualTo(200);
    List<Long> out = new ArrayList<>();
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) {
        out.add(new JsonObject(line).getLong("seq"));
      }
    }
    return out;
  }

  static final String STREAMED = "gateway_replay_events_total";

  /**
   * Events the gateway has written into replay responses so far. A missing metric fails: reading it
   * as 0 would make any stall check pass.
   */
  static double streamed() {
    String metrics = gw.send("GET", "/metrics", null, null).body();
    for (String line : metrics.split("\n")) {
      if (line.startsWith(STREAMED + " ") || line.startsWith(STREAMED + "{")) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    throw new AssertionError(STREAMED + " is not in /metrics:\n" + metrics);
  }

  @Test
  void shouldStreamAHundredThousandEventsInOrder() throws Exception {
    HttpResponse<InputStream> r = open(token, "?limit=100000");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("content-type")).hasValue("application/x-ndjson");
    assertThat(r.headers().firstValue("content-length"))
        .isEmpty(); // streamed (chunked), not buffered
    long expected = 1;
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      for (String line; (line = in.readLine()) != null; ) {
        JsonObject e = new JsonObject(line);
        assertThat(e.getLong("seq")).isEqualTo(expected);
        assertThat(e.getString("eventId")).isEqualTo("r-" + (expected - 1));
        expected++;
      }
    }
    assertThat(expected - 1).isEqualTo(TOTAL);
  }

  @Test
  void shouldHoldBackWhileTheClientDoesNotRead() throws Exception {
    double before = streamed();
    // A raw socket with a small receive buffer that reads the first bytes and then stops, as a
    // stalled client would (the JDK HttpClient would keep reading into its own memory).
    try (java.net.Socket socket = new java.net.Socket()) {
      socket.setReceiveBufferSize(64 * 1024);
      socket.connect(new java.net.InetSocketAddress("127.0.0.1", gw.port));
      socket
          .getOutputStream()
          .write(
              ("GET /v1/merchants/"
                      + merchant
                      + "/events HTTP/1.1\r\nHost: x\r\n"
                      + "Authorization: Bearer "
                      + token
                      + "\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      byte[] first = socket.getInputStream().readNBytes(200);
      assertThat(new String(first, StandardCharsets.US_ASCII))
          .startsWith("HTTP/1.1 200")
          .contains("{\"seq\":1,");
      double[] last = {-1};
      Await.until(
          "the stream to stall",
          Duration.ofSeconds(30),
          () -> {
            double now = streamed();
            boolean stalled = now == last[0];
            last[0] = now;
            if (!stalled) {
              try {
                Thread.sleep(300);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }
            return stalled;
          });
      // The gateway stopped reading pages once the buffers were full: what it holds is bounded
      // by those buffers, not by the length of the range.
      assertThat(last[0] - before).isLessThan(TOTAL / 2.0);
    }
  }

  @Test
  void shouldHonourFromSeqToSeqAndLimit() throws Exception {
    assertThat(seqs("?fromSeq=10&toSeq=20"))
        .containsExactlyElementsOf(IntStream.rangeClosed(10, 20).mapToObj(i -> (long) i).toList());
    assertThat(seqs("?fromSeq=99990&limit=5"))
        .containsExactly(99990L, 99991L, 99992L, 99993L, 99994L);
    assertThat(seqs("?fromSeq=99999")).containsExactly(99999L, 100000L);
    assertThat(seqs("?fromSeq=100001")).isEmpty();
    assertThat(open(token, "?fromSeq=0").statusCode()).isEqualTo(400);
    assertThat(open(token, "?fromSeq=5&toSeq=4").statusCode()).isEqualTo(400);
    assertThat(open(token, "?limit=abc").statusCode()).isEqualTo(400);
    // past 2^53 - 1: refused, not a 500 from an overflow in the read
    assertThat(open(token, "?fromSeq=9223372036854775807").statusCode()).isEqualTo(400);
    assertThat(open(token, "?fromSeq=9007199254740992").statusCode()).isEqualTo(400);
    assertThat(seqs("?fromSeq=9007199254740991")).isEmpty();
  }

  @Test
  void shouldAnswer403WithoutSayingWhetherTheMerchantExists() {
    HttpResponse<String> known =
        gw.send("GET", "/v1/merchants/" + merchant + "/events", otherToken, null);
    HttpResponse<String> unknown =
        gw.send("GET", "/v1/merchants/no-such-merchant-x/events", otherToken, null);
    assertThat(known.statusCode()).isEqualTo(403);
    assertThat(unknown.statusCode()).isEqualTo(403);
    assertThat(known.body().replace(merchant, "M"))
        .isEqualTo(unknown.body().replace("no-such-merchant-x", "M"));
    assertThat(gw.send("GET", "/v1/merchants/" + merchant + "/events", null, null).statusCode())
        .isEqualTo(401);
    assertThat(
            gw.send("GET", "/v1/merchants/" + merchant + "/events", TestGateway.ADMIN_TOKEN, null)
                .statusCode())
        .isEqualTo(401);
  }
}
