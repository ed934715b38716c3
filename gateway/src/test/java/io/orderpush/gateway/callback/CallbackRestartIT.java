package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * One batch of a merchant in flight at a time, whatever restarts its channel while a POST is out: a
 * rewind through the API, a revoke and a new grant, a freeze and unfreeze of the app (which builds
 * its endpoint anew). The batch whose POST is out is no longer the channel's, but the next one
 * leaves only once it is answered.
 */
class CallbackRestartIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;

  /** Answers 204 to every POST, after {@link #hold} when it is set; counts POSTs open at once. */
  static final class HoldingReceiver implements AutoCloseable {
    final Vertx vertx = Vertx.vertx();
    final HttpServer server;
    final List<Long> firstSeqs = new CopyOnWriteArrayList<>();
    final List<String> merchants = new CopyOnWriteArrayList<>();
    final AtomicInteger open = new AtomicInteger();
    final AtomicInteger mostOpen = new AtomicInteger();
    volatile Promise<Void> hold;

    HoldingReceiver() {
      server =
          vertx
              .createHttpServer()
              .requestHandler(
                  req ->
                      req.body()
                          .onSuccess(
                              body -> {
                                merchants.add(
                                    new JsonObject(body.toString()).getString("merchantId"));
                                int now = open.incrementAndGet();
                                mostOpen.accumulateAndGet(now, Math::max);
                                firstSeqs.add(
                                    new JsonObject(body.toString())
                                        .getJsonArray("events")
                                        .getJsonObject(0)
                                        .getLong("seq"));
                                Promise<Void> held = hold;
                                (held == null
                                        ? io.vertx.core.Future.<Void>succeededFuture()
                                        : held.future())
                                    .onComplete(
                                        x -> {
                                          open.decrementAndGet();
                                          req.response().setStatusCode(204).end();
                                        });
                              }))
              .listen(0, "127.0.0.1")
              .toCompletionStage()
              .toCompletableFuture()
              .orTimeout(10, TimeUnit.SECONDS)
              .join();
    }

    String url() {
      return "http://127.0.0.1:" + server.actualPort() + "/hooks/orders";
    }

    @Override
    public void close() {
      vertx.close();
    }
  }

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "50",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "200",
                "GATEWAY_CALLBACK_REQUEST_TIMEOUT_MS", "20000"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @Test
  void shouldSendNoOtherBatchOfAMerchantWhileAPostOutlivesARewindARegrantOrAFreezeOfItsChannel()
      throws Exception {
    String m = TestServices.uniqueMerchant("cb-restart");
    try (HoldingReceiver receiver = new HoldingReceiver()) {
      JsonObject app = app(receiver);
      String appId = app.getString("appId");
      String grant = "/v1/merchants/" + m + "/grants/" + appId;
      assertThat(send("PUT", grant, TestGateway.ADMIN_TOKEN, "{\"start\":\"earliest\"}"))
          .isEqualTo(200);
      List<JsonObject> events = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        events.add(Events.event(m, UUID.randomUUID().toString()));
      }
      for (String restart : List.of("rewind", "regrant", "freeze")) {
        receiver.hold = Promise.promise();
        int before = receiver.firstSeqs.size();
        if (restart.equals("rewind")) {
          assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
        } else {
          // everything is acked: a rewind makes the next POST, which is held
          assertThat(
                  send(
                      "PUT",
                      "/v1/channels/" + m + "/cursor",
                      app.getString("token"),
                      "{\"seq\":0}"))
              .isEqualTo(200);
        }
        Await.until("a POST held", WAIT, () -> receiver.open.get() == 1);
        if (restart.equals("rewind")) {
          assertThat(
                  send(
                      "PUT",
                      "/v1/channels/" + m + "/cursor",
                      app.getString("token"),
                      "{\"seq\":0}"))
              .isEqualTo(200);
        } else if (restart.equals("regrant")) {
          assertThat(send("DELETE", grant, TestGateway.ADMIN_TOKEN, null)).isEqualTo(204);
          assertThat(send("PUT", grant, TestGateway.ADMIN_TOKEN, "{\"start\":\"earliest\"}"))
              .isEqualTo(200);
        } else {
          String path = "/v1/apps/" + appId;
          assertThat(send("POST", path + "/freeze", TestGateway.ADMIN_TOKEN, null)).isEqualTo(200);
          assertThat(send("POST", path + "/unfreeze", TestGateway.ADMIN_TOKEN, null))
              .isEqualTo(200);
        }
        // the restarted channel has its batch to send; it must wait for the held POST's answer
        Thread.sleep(1_500);
        assertThat(receiver.firstSeqs.size())
            .as("POSTs of the merchant after the " + restart + ", the first still held")
            .isEqualTo(before + 1);
        receiver.hold.complete();
        Await.until(
            "the batch sent again once the held POST was answered",
            WAIT,
            () -> receiver.firstSeqs.size() > before + 1 && receiver.open.get() == 0);
        assertThat(receiver.firstSeqs.get(before + 1)).as("from the start again").isEqualTo(1L);
      }
      assertThat(receiver.mostOpen.get()).as("POSTs of the merchant open at once").isEqualTo(1);
      NoStuckChannels.check(gw);
      send("DELETE", "/v1/apps/" + appId, TestGateway.ADMIN_TOKEN, null);
    }
  }

  @Test
  void shouldNotStoreTheAnswerToAPostFromBeforeAnUnfreezeWhenTheChannelRewoundSinceIsLetGo()
      throws Exception {
    String m = TestServices.uniqueMerchant("cb-unfreeze-rewind");
    try (HoldingReceiver receiver = new HoldingReceiver()) {
      JsonObject app = app(receiver);
      String appId = app.getString("appId");
      String path = "/v1/apps/" + appId;
      assertThat(
              send(
                  "PUT",
                  "/v1/merchants/" + m + "/grants/" + appId,
                  TestGateway.ADMIN_TOKEN,
                  "{\"start\":\"earliest\"}"))
          .isEqualTo(200);
      receiver.hold = Promise.promise();
      List<JsonObject> events = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        events.add(Events.event(m, UUID.randomUUID().toString()));
      }
      assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
      Await.until("a POST of seqs 1-5 held", WAIT, () -> receiver.open.get() == 1);
      // a new endpoint claims the channel while that POST is out; the app rewinds it to 0; then
      // it is let go again (frozen) before the held POST is answered
      assertThat(send("POST", path + "/freeze", TestGateway.ADMIN_TOKEN, null)).isEqualTo(200);
      assertThat(send("POST", path + "/unfreeze", TestGateway.ADMIN_TOKEN, null)).isEqualTo(200);
      assertThat(
              send("PUT", "/v1/channels/" + m + "/cursor", app.getString("token"), "{\"seq\":0}"))
          .isEqualTo(200);
      assertThat(send("POST", path + "/freeze", TestGateway.ADMIN_TOKEN, null)).isEqualTo(200);
      receiver.hold.complete(); // 204 to the POST from before the first freeze
      Await.until("the held POST answered", WAIT, () -> receiver.open.get() == 0);
      assertThat(send("POST", path + "/unfreeze", TestGateway.ADMIN_TOKEN, null)).isEqualTo(200);
      // the rewind holds: seqs 1-5 are sent again
      Await.until("a POST after the unfreeze", WAIT, () -> receiver.firstSeqs.size() == 2);
      assertThat(receiver.firstSeqs.get(1)).as("sent again from the rewind").isEqualTo(1L);
      send("DELETE", path, TestGateway.ADMIN_TOKEN, null);
    }
  }

  static JsonObject app(HoldingReceiver receiver) {
    return app(gw, receiver);
  }

  static JsonObject app(TestGateway gw, HoldingReceiver receiver) {
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject()
                .put("name", "cb-restart")
                .put(
                    "delivery", new JsonObject().put("mode", "callback").put("url", receiver.url()))
                .encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return new JsonObject(r.body());
  }

  static int send(String method, String path, String token, String body) {
    HttpResponse<String> r = gw.send(method, path, token, body);
    return r.statusCode();
  }
}
