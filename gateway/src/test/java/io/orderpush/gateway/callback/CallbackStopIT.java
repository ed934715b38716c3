package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.callback.CallbackRestartIT.HoldingReceiver;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A node that stops lets its callback channels go once their POSTs in flight are answered, and the
 * release stores what a 2xx acked: the next node does not send those events again.
 */
class CallbackStopIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final Map<String, String> ENV =
      Map.of(
          "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
          "GATEWAY_CALLBACK_REQUEST_TIMEOUT_MS", "20000");

  @Test
  void shouldStoreTheAckOfAPostAnsweredWhileItsNodeStopsAndSendItNoMore() throws Exception {
    String m = TestServices.uniqueMerchant("cb-stop");
    TestGateway stopping = TestGateway.start(ENV);
    TestGateway next = null;
    boolean stoppedHere = false;
    try (HoldingReceiver receiver = new HoldingReceiver()) {
      JsonObject app = CallbackRestartIT.app(stopping, receiver);
      String appId = app.getString("appId");
      HttpResponse<String> granted =
          stopping.send(
              "PUT",
              "/v1/merchants/" + m + "/grants/" + appId,
              TestGateway.ADMIN_TOKEN,
              "{\"start\":\"earliest\"}");
      assertThat(granted.statusCode()).as(granted.body()).isEqualTo(200);
      receiver.hold = Promise.promise();
      List<JsonObject> events = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        events.add(Events.event(m, UUID.randomUUID().toString()));
      }
      assertThat(stopping.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
      Await.until("a POST held", WAIT, () -> receiver.open.get() == 1);
      var stopped = stopping.gateway.stop().toCompletionStage().toCompletableFuture();
      Thread.sleep(500);
      receiver.hold.complete(); // answered 2xx while its channel is being let go
      stopped.get(60, TimeUnit.SECONDS);
      stoppedHere = true;
      int posts = receiver.firstSeqs.size();

      next = TestGateway.start(ENV);
      TestGateway serving = next;
      // the next node takes the channel over from the cursor the release stored
      Await.until(
          "the cursor the release stored",
          WAIT,
          () -> cursor(serving, app.getString("token"), m) == 5);
      Thread.sleep(1_500);
      assertThat(receiver.firstSeqs.size()).as("POSTs after the stop").isEqualTo(posts);
      serving.send("DELETE", "/v1/apps/" + appId, TestGateway.ADMIN_TOKEN, null);
    } finally {
      if (!stoppedHere) {
        stopping.close();
      }
      if (next != null) {
        next.close();
      }
    }
  }

  /** The channel's stored cursor, as {@code GET /v1/channels} answers it. */
  static long cursor(TestGateway gw, String token, String merchant) {
    HttpResponse<String> r = gw.send("GET", "/v1/channels", token, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonObject(r.body())
        .getJsonArray("channels").stream()
            .map(JsonObject.class::cast)
            .filter(c -> merchant.equals(c.getString("merchantId")))
            .mapToLong(c -> c.getLong("cursor"))
            .findFirst()
            .orElse(-1);
  }
}
