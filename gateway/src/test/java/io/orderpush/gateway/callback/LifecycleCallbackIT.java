package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import com.standardwebhooks.Webhook;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Freeze and unfreeze of a callback app whose endpoint is failing. */
class LifecycleCallbackIT {

  static final Duration WAIT = Duration.ofSeconds(60);
  static TestGateway gw;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "50",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "200",
                "GATEWAY_CALLBACK_REQUEST_TIMEOUT_MS", "500",
                "GATEWAY_CALLBACK_BATCH_SIZE", "10"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @Test
  void shouldStopAFailingCallbackRetryOnFreezeAndResumeFromTheCursorOnUnfreeze() throws Exception {
    try (Receiver receiver = new Receiver()) {
      String m = TestServices.uniqueMerchant("cbfreeze");
      receiver.script =
          (merchant, first, attempt) -> first > 20 ? Receiver.Action.FAIL : Receiver.Action.OK;
      JsonObject app = app(receiver, m);
      String id = app.getString("appId");
      try {
        ingest(m, 60);
        Await.until(
            "a batch failing again and again",
            WAIT,
            () -> receiver.attemptsByBatch.values().stream().anyMatch(n -> n.get() >= 3));
        assertThat(receiver.applied.get(m)).isEqualTo(20);

        HttpResponse<String> frozen = admin("POST", "/v1/apps/" + id + "/freeze");
        assertThat(frozen.statusCode()).as(frozen.body()).isEqualTo(200);
        Thread.sleep(600); // a POST already on the wire may still arrive (request timeout 500 ms)
        int attempts = receiver.deliveries.size();
        Thread.sleep(2000); // retries every <= 200 ms would have come by now
        assertThat(receiver.deliveries.size()).as("POSTs after the freeze").isEqualTo(attempts);
        assertThat(admin("GET", "/v1/apps/" + id + "/endpoint").statusCode()).isEqualTo(404);
        ingest(m, 40); // stored while frozen, delivered after

        receiver.script = (merchant, first, attempt) -> Receiver.Action.OK;
        HttpResponse<String> active = admin("POST", "/v1/apps/" + id + "/unfreeze");
        assertThat(active.statusCode()).as(active.body()).isEqualTo(200);
        Await.until(
            "every event applied",
            WAIT,
            () -> receiver.applied.getOrDefault(m, 0L) == 100,
            () -> "applied " + receiver.applied.get(m) + receiver.history(m));
        assertThat(receiver.violations).isEmpty();
        assertThat(receiver.resent).isEmpty();
      } finally {
        admin("DELETE", "/v1/apps/" + id);
      }
    }
  }

  static HttpResponse<String> admin(String method, String path) {
    return gw.send(method, path, TestGateway.ADMIN_TOKEN, null);
  }

  static JsonObject app(Receiver receiver, String merchant) {
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject()
                .put("name", "cb-lifecycle")
                .put(
                    "delivery", new JsonObject().put("mode", "callback").put("url", receiver.url()))
                .encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    receiver.verifier = new Webhook(app.getString("webhookSecret"));
    assertThat(
            gw.send(
                    "PUT",
                    "/v1/merchants/" + merchant + "/grants/" + app.getString("appId"),
                    TestGateway.ADMIN_TOKEN,
                    "{\"start\":\"earliest\"}")
                .statusCode())
        .isEqualTo(200);
    return app;
  }

  static void ingest(String merchant, int count) {
    List<JsonObject> batch = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      batch.add(Events.event(merchant, UUID.randomUUID().toString()));
    }
    assertThat(gw.ingest(Events.batch(batch)).statusCode()).isEqualTo(200);
  }
}
