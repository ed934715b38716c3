package io.orderpush.gateway.replay;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@code replay.stall-timeout-ms}: a client that stops reading gives its replay slot back. */
class ReplayStallIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;

  /** The apps the tests made, removed at the end. */
  static final java.util.List<String> apps = new java.util.concurrent.CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_REPLAY_STALL_TIMEOUT_MS", "1000",
                "GATEWAY_REPLAY_MAX_CONCURRENT_PER_APP", "1"));
  }

  @AfterAll
  static void stop() {
    gw.close();
    TestApps.deleteRows(apps);
  }

  @Test
  void shouldCutOffAReplayWhoseClientStoppedReadingAndFreeItsSlot() throws Exception {
    String m = TestServices.uniqueMerchant("stall");
    // 40 MB: far more than the socket buffers between the two ends hold (16 MB was not, here)
    ingest(m, 20, 1000, 2000);
    String token = grantedApp(m);
    double stalledBefore = Scrape.value(gw, "gateway_replay_stalled_total");
    try (Socket reader = unread(m, token)) {
      Await.until(
          "the replay cut off",
          WAIT,
          () -> Scrape.value(gw, "gateway_replay_stalled_total") == stalledBefore + 1);
      Await.until(
          "its slot given back", WAIT, () -> Scrape.value(gw, "gateway_replay_running") == 0);
      HttpResponse<String> next =
          gw.send("GET", "/v1/merchants/" + m + "/events?limit=10", token, null);
      assertThat(next.statusCode()).as(next.body()).isEqualTo(200);
      assertThat(next.body().lines()).hasSize(10);
    }
  }

  @Test
  void shouldCutOffAClientThatReadsNothingOfAReplayWhoseEveryPageWasWritten() throws Exception {
    String m = TestServices.uniqueMerchant("stall-end");
    // 300 events of 60 KB, one page: written whole, the response ended, 18 MB still queued
    ingest(m, 5, 60, 60_000);
    String token = grantedApp(m);
    double stalledBefore = Scrape.value(gw, "gateway_replay_stalled_total");
    try (Socket reader = unread(m, token)) {
      Await.until(
          "the connection cut off",
          WAIT,
          () -> Scrape.value(gw, "gateway_replay_stalled_total") == stalledBefore + 1);
      Await.until(
          "closed",
          WAIT,
          () -> !io.orderpush.gateway.testing.Sockets.established(gw.port, reader.getLocalPort()));
    }
  }

  static void ingest(String m, int batches, int perBatch, int noteBytes) {
    for (int batch = 0; batch < batches; batch++) {
      List<JsonObject> events = new ArrayList<>();
      for (int i = 0; i < perBatch; i++) {
        JsonObject e = Events.event(m, "s-" + batch + "-" + i);
        e.getJsonObject("data").put("note", "x".repeat(noteBytes));
        events.add(e);
      }
      HttpResponse<String> r = gw.ingest(Events.batch(events));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
  }

  /** An app granted {@code m}; its token. */
  static String grantedApp(String m) {
    TestApps.Created app = TestApps.create(gw, "stalled", null);
    apps.add(app.appId());
    TestApps.grant(gw, m, app.appId(), "{\"start\":\"earliest\"}");
    return app.token();
  }

  /** A replay of {@code m} asked on a socket that then reads nothing. */
  static Socket unread(String m, String token) throws Exception {
    Socket reader = new Socket();
    reader.setReceiveBufferSize(4096);
    reader.connect(new InetSocketAddress("127.0.0.1", gw.port), 5000);
    reader
        .getOutputStream()
        .write(
            ("GET /v1/merchants/"
                    + m
                    + "/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                    + token
                    + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
    return reader;
  }
}
