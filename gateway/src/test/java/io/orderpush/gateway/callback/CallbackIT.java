package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import com.standardwebhooks.Webhook;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.callback.Receiver.Action;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CallbackIT {

  static final Duration WAIT = Duration.ofSeconds(60);
  static TestGateway gw;
  Receiver receiver;
  final List<String> apps = new ArrayList<>();

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "50",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "400",
                "GATEWAY_CALLBACK_REQUEST_TIMEOUT_MS", "500",
                "GATEWAY_CALLBACK_FAILING_AFTER_MS", "1000"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @BeforeEach
  void receiver() {
    receiver = new Receiver();
  }

  @AfterEach
  void cleanUp() {
    receiver.close();
    for (String id : apps) {
      gw.gateway
          .pool()
          .preparedQuery("DELETE FROM apps WHERE app_id = $1")
          .execute(io.vertx.sqlclient.Tuple.of(UUID.fromString(id)))
          .toCompletionStage()
          .toCompletableFuture()
          .join();
    }
  }

  String callbackApp(List<String> merchants) {
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject()
                .put("name", "cb")
                .put(
                    "delivery", new JsonObject().put("mode", "callback").put("url", receiver.url()))
                .encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    apps.add(app.getString("appId"));
    receiver.verifier = new Webhook(app.getString("webhookSecret"));
    for (String m : merchants) {
      assertThat(
              gw.send(
                      "PUT",
                      "/v1/merchants/" + m + "/grants/" + app.getString("appId"),
                      TestGateway.ADMIN_TOKEN,
                      "{\"start\":\"earliest\"}")
                  .statusCode())
          .isEqualTo(200);
    }
    return app.getString("appId");
  }

  static List<String> merchants(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(TestServices.uniqueMerchant("cb"));
    }
    return out;
  }

  static void ingest(List<String> merchants, int count) {
    for (int done = 0; done < count; done += 100) {
      List<JsonObject> batch = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        batch.add(
            Events.event(
                merchants.get(ThreadLocalRandom.current().nextInt(merchants.size())),
                UUID.randomUUID().toString()));
      }
      assertThat(gw.ingest(Events.batch(batch)).statusCode()).isEqualTo(200);
    }
  }

  long head(String m) {
    return gw.gateway
        .eventLog()
        .head(gw.gateway.pool(), m)
        .toCompletionStage()
        .toCompletableFuture()
        .join();
  }

  JsonObject endpoint(String appId) {
    return new JsonObject(
        gw.send("GET", "/v1/apps/" + appId + "/endpoint", TestGateway.ADMIN_TOKEN, null).body());
  }

  boolean allApplied(List<String> merchants) {
    return merchants.stream().allMatch(m -> receiver.applied.getOrDefault(m, 0L) == head(m));
  }

  @Test
  void shouldDeliverDenseSignedBatchesThroughFailuresTimeoutsAndDrops() {
    List<String> merchants = merchants(8);
    receiver.script =
        (m, first, attempt) -> {
          int roll = ThreadLocalRandom.current().nextInt(100);
          return roll < 20
              ? Action.FAIL
              : roll < 27 ? Action.TIMEOUT : roll < 34 ? Action.DROP : Action.OK;
        };
    callbackApp(merchants);
    ingest(merchants, 3000);

    Await.until(
        "every merchant applied to its head",
        WAIT,
        () -> allApplied(merchants),
        () -> receiver.applied.toString());
    assertThat(receiver.violations).isEmpty();
    assertThat(receiver.attemptsByBatch.values())
        .anyMatch(n -> n.get() > 1); // retries happened, same id and body
    assertThat(receiver.deliveries).allMatch(d -> d.last() - d.first() < 100);
  }

  @Test
  void shouldKeepDeliveringOtherMerchantsWhileOneMerchantsBatchFails() {
    List<String> merchants = merchants(4);
    String broken = merchants.get(0);
    receiver.script = (m, first, attempt) -> m.equals(broken) ? Action.FAIL : Action.OK;
    String app = callbackApp(merchants);
    ingest(merchants, 2000);

    List<String> healthy = merchants.subList(1, 4);
    Await.until("the healthy merchants applied", WAIT, () -> allApplied(healthy));
    assertThat(receiver.applied.getOrDefault(broken, 0L)).isZero();
    Await.until("the failing batch retried", WAIT, () -> receiver.deliveriesOf(broken).size() >= 3);
    assertThat(receiver.deliveriesOf(broken)).extracting(Receiver.Delivery::first).containsOnly(1L);
    Await.until(
        "the endpoint view to show the failures",
        WAIT,
        () -> endpoint(app).getInteger("consecutiveFailures") > 0,
        () -> endpoint(app).encode());
    assertThat(endpoint(app).getString("lastError")).isEqualTo("HTTP 500");

    receiver.script = (m, first, attempt) -> Action.OK;
    Await.until("the broken merchant catches up", WAIT, () -> allApplied(merchants));
    assertThat(receiver.violations).isEmpty();
  }

  @Test
  void shouldHonourRetryAfter() {
    List<String> merchants = merchants(1);
    receiver.retryAfterSeconds = 1;
    receiver.script = (m, first, attempt) -> attempt == 1 ? Action.TOO_MANY : Action.OK;
    callbackApp(merchants);
    ingest(merchants, 100);
    Await.until("applied", WAIT, () -> allApplied(merchants));
    List<Receiver.Delivery> tries = receiver.deliveriesOf(merchants.get(0));
    assertThat(tries.get(1).id()).isEqualTo(tries.get(0).id());
    // The backoff here starts at 50 ms; the retry waited for the Retry-After of one second.
    assertThat(tries.get(1).atMillis() - tries.get(0).atMillis()).isGreaterThanOrEqualTo(950);
  }

  @Test
  void shouldSuspendOn410AndContinueFromTheCursorOnResume() {
    List<String> merchants = merchants(2);
    java.util.concurrent.atomic.AtomicBoolean goneSent =
        new java.util.concurrent.atomic.AtomicBoolean();
    receiver.script =
        (m, first, attempt) ->
            first > 1 && goneSent.compareAndSet(false, true) ? Action.GONE : Action.OK;
    String app = callbackApp(merchants);
    ingest(merchants, 100);
    Await.until("first batches applied", WAIT, () -> allApplied(merchants));
    ingest(merchants, 300);
    Await.until("suspended", WAIT, () -> "suspended".equals(endpoint(app).getString("state")));
    int seen = receiver.deliveries.size();
    ingest(merchants, 100);
    assertThat(
            new JsonObject(gw.send("GET", "/v1/apps/" + app, TestGateway.ADMIN_TOKEN, null).body())
                .getJsonObject("delivery")
                .getString("endpointState"))
        .isEqualTo("suspended");

    HttpResponse<String> resumed =
        gw.send("POST", "/v1/apps/" + app + "/endpoint/resume", TestGateway.ADMIN_TOKEN, null);
    assertThat(new JsonObject(resumed.body()).getString("state")).isEqualTo("active");
    Await.until("everything applied after resume", WAIT, () -> allApplied(merchants));
    assertThat(receiver.deliveries.size()).isGreaterThan(seen);
    assertThat(receiver.violations).isEmpty();
  }

  @Test
  void shouldMarkAnEndpointFailingAfterTheConfiguredTimeAndActiveAgainOnSuccess() {
    List<String> merchants = merchants(1);
    receiver.script = (m, first, attempt) -> Action.FAIL;
    String app = callbackApp(merchants);
    ingest(merchants, 100);
    Await.until("failing", WAIT, () -> "failing".equals(endpoint(app).getString("state")));
    assertThat(endpoint(app).getString("nextAttemptAt")).isNotNull();
    receiver.script = (m, first, attempt) -> Action.OK;
    Await.until(
        "active again",
        WAIT,
        () -> "active".equals(endpoint(app).getString("state")) && allApplied(merchants));
  }

  @Test
  void shouldSignWithBothSecretsDuringRotation() {
    List<String> merchants = merchants(1);
    String app = callbackApp(merchants);
    Webhook oldSecret = receiver.verifier;
    HttpResponse<String> r =
        gw.send("POST", "/v1/apps/" + app + "/secret/rotate", TestGateway.ADMIN_TOKEN, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    Webhook newSecret = new Webhook(new JsonObject(r.body()).getString("webhookSecret"));
    receiver.verifier = newSecret;
    ingest(merchants, 100);
    Await.until("applied", WAIT, () -> allApplied(merchants));
    assertThat(receiver.violations).isEmpty();
    // The old secret still verifies the same deliveries while the grace period lasts.
    receiver.verifier = oldSecret;
    ingest(merchants, 100);
    Await.until("applied again", WAIT, () -> allApplied(merchants));
    assertThat(receiver.violations).isEmpty();
  }

  @Test
  void shouldRefusePrivateCallbackUrlsUnlessAllowListed() {
    // (localhost resolves to 127.0.0.1, which this gateway allow-lists; SsrfGuardTest covers
    // names.)
    for (String url :
        List.of(
            "http://10.0.0.1/x",
            "http://169.254.169.254/x",
            "http://[::1]/x",
            "http://192.168.0.1/x",
            "http://0.0.0.0:8080/x")) {
      HttpResponse<String> r =
          gw.send(
              "POST",
              "/v1/apps",
              TestGateway.ADMIN_TOKEN,
              new JsonObject()
                  .put("name", "x")
                  .put("delivery", new JsonObject().put("mode", "callback").put("url", url))
                  .encode());
      assertThat(r.statusCode()).as(url + " " + r.body()).isEqualTo(400);
      assertThat(new JsonObject(r.body()).getString("error")).isEqualTo("callback_url_refused");
    }
    // 127.0.0.1 is on this gateway's allow-list (the receiver of these tests lives there).
    callbackApp(List.of());
  }
}
