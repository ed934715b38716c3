package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** An operator's retry now sends a failing endpoint's waiting batches at once. */
class EndpointRetryIT {

  static final Duration WAIT = Duration.ofSeconds(20);
  static TestGateway gw;

  @BeforeAll
  static void start() {
    // A backoff far longer than the test: only a retry now can deliver in time.
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "600000",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "600000"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  JsonObject endpoint(String appId, String action) {
    HttpResponse<String> r =
        gw.send(
            action == null ? "GET" : "POST",
            "/v1/apps/" + appId + "/endpoint" + (action == null ? "" : "/" + action),
            TestGateway.ADMIN_TOKEN,
            null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonObject(r.body());
  }

  @Test
  void shouldSendWaitingBatchesAtOnceAndStartTheirBackoffOver() {
    Vertx vertx = Vertx.vertx();
    String appId = null;
    try {
      CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
      hooks.answer = r -> Future.succeededFuture(503);
      String m = TestServices.uniqueMerchant("retry");
      appId = TestApps.create(gw, "retry", hooks.url()).appId();
      TestApps.grant(gw, m, appId, "{}");
      assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
          .isEqualTo(200);
      String id = appId;
      Await.until(
          "a failed attempt with its next attempt scheduled",
          WAIT,
          () -> endpoint(id, null).getString("nextAttemptAt") != null);
      Instant next = Instant.parse(endpoint(appId, null).getString("nextAttemptAt"));
      assertThat(next).isAfter(Instant.now().plusSeconds(60)); // the long backoff

      hooks.answer = r -> Future.succeededFuture(204);
      JsonObject after = endpoint(appId, "retry");
      assertThat(after.getInteger("channelsWaiting")).isLessThanOrEqualTo(1);
      Await.until(
          "the batch delivered by the retry",
          WAIT,
          () ->
              hooks.requests.size() >= 2 && endpoint(id, null).getInteger("channelsWaiting") == 0);
      assertThat(hooks.requests.get(1).id()).isEqualTo(hooks.requests.get(0).id());
      assertThat(endpoint(appId, null).getString("nextAttemptAt")).isNull();

      // A suspended endpoint is resumed, not retried.
      endpoint(appId, "suspend");
      HttpResponse<String> refused =
          gw.send("POST", "/v1/apps/" + appId + "/endpoint/retry", TestGateway.ADMIN_TOKEN, null);
      assertThat(refused.statusCode()).isEqualTo(409);
      assertThat(refused.body()).contains("endpoint_suspended");
      NoStuckChannels.check(gw);
    } finally {
      vertx.close().toCompletionStage().toCompletableFuture().join();
      if (appId != null) {
        TestApps.deleteRows(gw, List.of(appId));
      }
    }
  }
}
