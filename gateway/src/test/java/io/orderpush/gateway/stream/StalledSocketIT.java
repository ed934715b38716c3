package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A WebSocket client that stops reading altogether, not even the close frame: the gateway closes
 * its socket anyway, so such clients cannot pile up open sockets and buffers once their connections
 * were closed.
 */
class StalledSocketIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;

  /** The apps the tests made, removed at the end. */
  static final java.util.List<String> apps = new java.util.concurrent.CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_STREAM_PING_INTERVAL_MS", "500",
                "GATEWAY_STREAM_IDLE_TIMEOUT_MS", "1000"));
  }

  @AfterAll
  static void stop() {
    gw.close();
    TestApps.deleteRows(apps);
  }

  @Test
  void shouldCloseTheSocketOfAClosedConnectionWhoseClientReadsNothing() throws Exception {
    String m = TestServices.uniqueMerchant("stalled-ws");
    TestApps.Created app = TestApps.create(gw, "stalled", null);
    apps.add(app.appId());
    TestApps.grant(gw, m, app.appId(), "{\"start\":\"earliest\"}");
    // 16 MB: far more than the socket buffers between the two ends hold (4 MB at most here)
    for (int batch = 0; batch < 8; batch++) {
      List<JsonObject> events = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        JsonObject e = Events.event(m, "w-" + batch + "-" + i);
        e.getJsonObject("data").put("note", "x".repeat(2000));
        events.add(e);
      }
      HttpResponse<String> r = gw.ingest(Events.batch(events));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
    double forcedBefore = Scrape.value(gw, "gateway_stream_sockets_forced_closed_total");

    try (Socket client = new Socket()) {
      client.setReceiveBufferSize(4096);
      client.connect(new InetSocketAddress("127.0.0.1", gw.port), 5000);
      String key = Base64.getEncoder().encodeToString(new byte[16]);
      client
          .getOutputStream()
          .write(
              ("GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                      + "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
                      + key
                      + "\r\nAuthorization: Bearer "
                      + app.token()
                      + "\r\n\r\n")
                  .getBytes(StandardCharsets.US_ASCII));
      assertThat(head(client.getInputStream())).startsWith("HTTP/1.1 101");
      // ...and nothing more is read: the gateway fills its buffers, the idle timeout closes the
      // connection, and its close frame waits behind them
      Await.until(
          "the socket closed beneath the frames it could not send",
          WAIT,
          () -> Scrape.value(gw, "gateway_stream_sockets_forced_closed_total") > forcedBefore);
      Await.until(
          "no established TCP connection left on the gateway's side",
          WAIT,
          () -> !io.orderpush.gateway.testing.Sockets.established(gw.port, client.getLocalPort()));
    }
  }

  /** The response head, read byte by byte so nothing after it is taken. */
  static String head(InputStream in) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    while (!out.toString(StandardCharsets.US_ASCII).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      out.write(b);
    }
    return out.toString(StandardCharsets.US_ASCII);
  }
}
