package io.orderpush.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.testing.RawHttp;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A node that has begun a graceful stop takes no new WebSocket and tells balancers so. */
class GracefulStopIT {

  static final Duration WAIT = Duration.ofSeconds(30);

  @Test
  void shouldAnswerNotReadyAndRefuseNewWebSocketsFromTheMomentItBeginsToStop() throws Exception {
    TestGateway gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_REQUEST_TIMEOUT_MS", "2000"));
    List<Socket> held = new CopyOnWriteArrayList<>();
    List<String> apps = new java.util.ArrayList<>();
    try (ServerSocket hung = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      // Takes the callback's connection and never answers: the POST in flight holds the stop (its
      // delivery waits for it, at most the request timeout) while the test looks at the node.
      Thread acceptor =
          new Thread(
              () -> {
                try {
                  while (true) {
                    held.add(hung.accept());
                  }
                } catch (IOException closed) {
                  // the test is over
                }
              });
      acceptor.setDaemon(true);
      acceptor.start();
      TestApps.Created callback =
          TestApps.create(gw, "hung", "http://127.0.0.1:" + hung.getLocalPort() + "/hook");
      apps.add(callback.appId());
      String m = TestServices.uniqueMerchant("stopping");
      TestApps.grant(gw, m, callback.appId(), "{\"start\":\"earliest\"}");
      TestApps.Created ws = TestApps.create(gw, "ws", null);
      apps.add(ws.appId());
      HttpResponse<String> ingested = gw.ingest(Events.batch(List.of(Events.event(m, "e-1"))));
      assertThat(ingested.statusCode()).as(ingested.body()).isEqualTo(200);
      Await.until("the callback in flight", WAIT, () -> !held.isEmpty());
      assertThat(upgrade(gw, ws.token()).status()).isEqualTo(101);

      CompletableFuture<Void> stopped = gw.gateway.stop().toCompletionStage().toCompletableFuture();
      Await.until(
          "readiness to say stopping",
          WAIT,
          () -> gw.send("GET", "/health/ready", null, null).statusCode() == 503);
      assertThat(
              new JsonObject(gw.send("GET", "/health/ready", null, null).body())
                  .getString("status"))
          .isEqualTo("stopping");
      RawHttp.Response refused = upgrade(gw, ws.token());
      assertThat(refused.status()).as(refused.body()).isEqualTo(503);
      assertThat(refused.header("Retry-After")).isEqualTo("1");
      assertThat(stopped)
          .as("still stopping (the callback in flight) when it was refused")
          .isNotDone();
      stopped.get(60, TimeUnit.SECONDS);
    } finally {
      for (Socket s : held) {
        s.close();
      }
      TestApps.deleteRows(apps);
    }
  }

  static RawHttp.Response upgrade(TestGateway gw, String token) {
    try (var c =
        RawHttp.WebSocketConnection.open("127.0.0.1", gw.port, "/v1/stream", token, 10_000)) {
      return c.handshake;
    }
  }
}
