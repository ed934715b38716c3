package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.delivery.callback.EndpointView;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.callback.CallbackRestartIT.HoldingReceiver;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Promise;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code callback.max-in-flight-per-app} counts every POST of the app out on the node, also those
 * an endpoint sent before the app was frozen and unfrozen (which builds the endpoint anew).
 */
class CallbackInFlightLimitIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_MAX_IN_FLIGHT_PER_APP", "1",
                "GATEWAY_CALLBACK_REQUEST_TIMEOUT_MS", "20000",
                // the held POST's answer must start what waits, not the periodic backstop
                "GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "600000"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @Test
  void shouldCountAPostFromBeforeAFreezeAndUnfreezeAgainstTheAppsInFlightLimit() throws Exception {
    String a = TestServices.uniqueMerchant("cb-limit-a");
    String b = TestServices.uniqueMerchant("cb-limit-b");
    try (HoldingReceiver receiver = new HoldingReceiver()) {
      JsonObject app = CallbackRestartIT.app(gw, receiver);
      String appId = app.getString("appId");
      String path = "/v1/apps/" + appId;
      try {
        for (String m : List.of(a, b)) {
          String grant = "/v1/merchants/" + m + "/grants/" + appId;
          assertThat(
                  gw.send("PUT", grant, TestGateway.ADMIN_TOKEN, "{\"start\":\"earliest\"}")
                      .statusCode())
              .isEqualTo(200);
        }
        receiver.hold = Promise.promise();
        assertThat(gw.ingest(Events.batch(List.of(Events.event(a, "a-1")))).statusCode())
            .isEqualTo(200);
        Await.until("merchant a's POST held", WAIT, () -> receiver.open.get() == 1);
        for (String step : List.of("/freeze", "/unfreeze")) {
          assertThat(gw.send("POST", path + step, TestGateway.ADMIN_TOKEN, null).statusCode())
              .isEqualTo(200);
        }
        // the new endpoint is loaded with both channels before b's event comes, so that b's POST
        // could leave at once
        Await.until("the new endpoint loaded", WAIT, () -> loadedChannels(appId) == 2);
        assertThat(gw.ingest(Events.batch(List.of(Events.event(b, "b-1")))).statusCode())
            .isEqualTo(200);
        // the new endpoint has merchant b's batch to send, and the app's one slot is taken by the
        // POST from before the freeze
        Thread.sleep(1_500);
        assertThat(receiver.mostOpen.get())
            .as("POSTs of the app open at once: " + receiver.merchants)
            .isEqualTo(1);
        receiver.hold.complete();
        // b's POST leaves when the held one is answered (no reconcile runs in this test); a's is
        // sent again (its channel was claimed anew)
        Await.until(
            "merchant b's POST, and a's sent again, once the held one was answered",
            Duration.ofSeconds(10),
            () -> receiver.merchants.size() >= 3 && receiver.open.get() == 0);
        assertThat(receiver.merchants).contains(b);
        assertThat(receiver.mostOpen.get())
            .as("POSTs of the app open at once: " + receiver.merchants)
            .isEqualTo(1);
      } finally {
        receiver.hold = null;
        gw.send("DELETE", path, TestGateway.ADMIN_TOKEN, null);
      }
    }
  }

  /** The channels of the app's endpoint on the node, once it is loaded; -1 before. */
  static int loadedChannels(String appId) {
    EndpointView v =
        gw.gateway
            .delivery()
            .callbacks()
            .view(UUID.fromString(appId))
            .toCompletionStage()
            .toCompletableFuture()
            .join();
    return v.loading() == EndpointView.Loading.LOADED ? v.channels() : -1;
  }
}
