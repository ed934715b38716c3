package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Callback channels that must never stay stuck: retries of any batch, and batches that expired. */
class CallbackRecoveryIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;
  final List<String> apps = new ArrayList<>();
  final Map<String, String> tokens = new java.util.HashMap<>();
  final Vertx vertx = Vertx.vertx();
  Hooks hooks;

  /** An HTTP receiver that records every request and answers what the test decides. */
  static final class Hooks {
    record Request(int n, String id, String merchantId, long first, long last, String body) {}

    final List<Request> requests = new CopyOnWriteArrayList<>();
    volatile Function<Request, Future<Integer>> answer = r -> Future.succeededFuture(204);
    final HttpServer server;

    Hooks(Vertx vertx) {
      server =
          vertx
              .createHttpServer()
              .requestHandler(
                  req ->
                      req.body()
                          .onSuccess(
                              buf -> {
                                JsonObject batch = buf.toJsonObject();
                                JsonArray events = batch.getJsonArray("events");
                                Request r =
                                    new Request(
                                        requests.size(),
                                        req.getHeader("webhook-id"),
                                        batch.getString("merchantId"),
                                        events.getJsonObject(0).getLong("seq"),
                                        events.getJsonObject(events.size() - 1).getLong("seq"),
                                        buf.toString());
                                requests.add(r);
                                answer
                                    .apply(r)
                                    .onComplete(
                                        ar ->
                                            req.response()
                                                .setStatusCode(ar.succeeded() ? ar.result() : 500)
                                                .end());
                              }));
      server
          .listen(0, "127.0.0.1")
          .toCompletionStage()
          .toCompletableFuture()
          .orTimeout(10, TimeUnit.SECONDS)
          .join();
    }

    String url() {
      return "http://127.0.0.1:" + server.actualPort() + "/hooks";
    }

    /** Seqs acked (answered 2xx) per request, in order; the answers are known once recorded. */
    List<Long> seqsOf(List<Request> acked) {
      List<Long> out = new ArrayList<>();
      for (Request r : acked) {
        for (Object e : new JsonObject(r.body()).getJsonArray("events")) {
          out.add(((JsonObject) e).getLong("seq"));
        }
      }
      return out;
    }
  }

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_BATCH_SIZE", "1000",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "100",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "400"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @AfterEach
  void cleanUp() {
    NoStuckChannels.check(gw);
    TestApps.deleteRows(gw, apps);
    vertx.close().toCompletionStage().toCompletableFuture().join();
  }

  String callbackApp(String merchant) {
    hooks = new Hooks(vertx);
    TestApps.Created app = TestApps.create(gw, "recovery", hooks.url());
    tokens.put(app.appId(), app.token());
    apps.add(app.appId());
    TestApps.grant(gw, merchant, app.appId(), "{\"start\":\"earliest\"}");
    return app.appId();
  }

  void ingest(String merchant, int from, int to) {
    List<JsonObject> events = new ArrayList<>();
    for (int i = from; i <= to; i++) {
      events.add(Events.event(merchant, "e-" + i));
    }
    HttpResponse<String> r = gw.ingest(Events.batch(events));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  List<Hooks.Request> acked(Map<Hooks.Request, Integer> answers) {
    return hooks.requests.stream().filter(r -> answers.getOrDefault(r, 0) == 204).toList();
  }

  @Test
  void shouldRetryABatchThatSpansMoreChunksThanOneLogReadReturns() {
    String m = TestServices.uniqueMerchant("chunks");
    callbackApp(m);
    Promise<Integer> firstHeld = Promise.promise();
    AtomicInteger calls = new AtomicInteger();
    Map<Hooks.Request, Integer> answers = new java.util.concurrent.ConcurrentHashMap<>();
    hooks.answer =
        r -> {
          int n = calls.incrementAndGet();
          Future<Integer> a =
              n == 1
                  ? firstHeld.future()
                  : n == 2 ? Future.succeededFuture(500) : Future.succeededFuture(204);
          return a.onSuccess(code -> answers.put(r, code));
        };
    ingest(m, 1, 1);
    Await.until("the first POST", WAIT, () -> hooks.requests.size() == 1);
    // 300 commits of one event each: 300 chunks, more than one log read returns (128), all in
    // the tail cache, so the next batch is cut from there in one piece.
    for (int i = 2; i <= 301; i++) {
      ingest(m, i, i);
    }
    firstHeld.complete(204);
    Await.until(
        "all 301 events acked",
        WAIT,
        () -> hooks.seqsOf(acked(answers)).size() >= 301,
        () -> "requests: " + hooks.requests.stream().map(r -> r.first() + "-" + r.last()).toList());
    List<Long> seqs = hooks.seqsOf(acked(answers));
    assertThat(seqs)
        .as(
            "requests: "
                + hooks.requests.stream()
                    .map(r -> r.first() + "-" + r.last() + ":" + answers.get(r))
                    .toList())
        .hasSize(301);
    for (int i = 0; i < seqs.size(); i++) {
      assertThat(seqs.get(i)).isEqualTo(i + 1L);
    }
    Hooks.Request failed = hooks.requests.get(1);
    Hooks.Request retried = hooks.requests.get(2);
    assertThat(failed.last() - failed.first() + 1)
        .as("the failed batch spanned more than 128 chunks")
        .isGreaterThan(128);
    assertThat(retried.id()).isEqualTo(failed.id());
    assertThat(retried.body()).isEqualTo(failed.body());
  }

  @Test
  void shouldDropABatchWhoseEventsRetentionRemovedShowItAndGoOn() {
    String m = TestServices.uniqueMerchant("expired");
    String appId = callbackApp(m);
    double expiredBefore = Scrape.value(gw, "gateway_callback_batches_expired_total");
    hooks.answer = r -> Future.succeededFuture(r.first() <= 5 ? 500 : 204);
    ingest(m, 1, 5);
    Await.until("a failed first attempt", WAIT, () -> !hooks.requests.isEmpty());
    // Retention removes the batch's events while it waits for its retry.
    gw.gateway
        .pool()
        .preparedQuery("DELETE FROM event_chunks WHERE merchant_id = $1")
        .execute(Tuple.of(m))
        .toCompletionStage()
        .toCompletableFuture()
        .join();
    ingest(m, 6, 8);
    Await.until(
        "seqs 6-8 delivered after the expired batch",
        WAIT,
        () -> hooks.requests.stream().anyMatch(r -> r.first() == 6 && r.last() == 8),
        () -> "requests: " + hooks.requests.stream().map(r -> r.first() + "-" + r.last()).toList());
    assertThat(Scrape.value(gw, "gateway_callback_batches_expired_total"))
        .isGreaterThan(expiredBefore);
    JsonObject view =
        new JsonObject(
            gw.send("GET", "/v1/apps/" + appId + "/endpoint", TestGateway.ADMIN_TOKEN, null)
                .body());
    assertThat(view.getString("lastError")).contains("removed by retention");
    Await.until(
        "the channel's cursor at 8",
        WAIT,
        () -> {
          JsonObject channels =
              new JsonObject(gw.send("GET", "/v1/channels", appToken(appId), null).body());
          return channels.getJsonArray("channels").getJsonObject(0).getLong("cursor") == 8;
        });
  }

  String appToken(String appId) {
    return tokens.get(appId);
  }
}
