package io.orderpush.gateway.callback;

import com.standardwebhooks.Webhook;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real HTTP receiver, as an ISV would run it: verifies every signature with the Standard Webhooks
 * library, applies each merchant's events once in seq order, and answers what the test's script
 * says.
 */
final class Receiver implements AutoCloseable {

  enum Action {
    OK,
    FAIL,
    /** 500 with Retry-After. */
    FAIL_LATER,
    TIMEOUT,
    DROP,
    GONE,
    TOO_MANY
  }

  interface Script {
    Action decide(String merchantId, long firstSeq, int attempt);
  }

  record Delivery(
      String id, String merchantId, long first, long last, long atMillis, String body) {}

  final Vertx vertx = Vertx.vertx();
  final HttpServer server;
  volatile Script script = (m, s, a) -> Action.OK;
  volatile int retryAfterSeconds = 1;
  volatile Webhook verifier;
  final Map<String, Long> applied = new ConcurrentHashMap<>();
  final Map<String, Long> acked = new ConcurrentHashMap<>();
  final Map<String, String> bodiesById = new ConcurrentHashMap<>();
  final Map<String, AtomicInteger> attemptsByBatch = new ConcurrentHashMap<>();
  final Map<String, Long> answered2xxAt = new ConcurrentHashMap<>();
  final List<Delivery> deliveries = new CopyOnWriteArrayList<>();

  /** Never legal: gaps, bad signatures, a retry with another body, a failure of this receiver. */
  final List<String> violations = new CopyOnWriteArrayList<>();

  /**
   * Batches sent again after this receiver answered 2xx. Legal only where the gateway could not
   * store the cursor after the 2xx (a crash, a lost Redis); a test without such a failure expects
   * none.
   */
  final List<String> resent = new CopyOnWriteArrayList<>();

  Receiver() {
    server = vertx.createHttpServer().requestHandler(this::handle);
    server
        .listen(0, "127.0.0.1")
        .toCompletionStage()
        .toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS)
        .join();
  }

  int port() {
    return server.actualPort();
  }

  String url() {
    return "http://127.0.0.1:" + port() + "/hooks/orders";
  }

  private void handle(HttpServerRequest req) {
    req.body()
        .onFailure(err -> violations.add("could not read a request: " + err))
        .onSuccess(
            buf -> {
              try {
                handle(req, buf.toString());
              } catch (RuntimeException e) {
                violations.add("receiver failed on a request: " + e);
                req.response().setStatusCode(500).end();
              }
            });
  }

  private void handle(HttpServerRequest req, String body) {
    String id = req.getHeader("webhook-id");
    try {
      verifier.verify(
          body,
          Map.of(
              "webhook-id", List.of(id),
              "webhook-timestamp", List.of(req.getHeader("webhook-timestamp")),
              "webhook-signature", List.of(req.getHeader("webhook-signature"))));
    } catch (Exception e) {
      violations.add("signature of " + id + " does not verify: " + e.getMessage());
    }
    String previous = bodiesById.putIfAbsent(id, body);
    if (previous != null && !previous.equals(body)) {
      violations.add("retry of " + id + " carried another body");
    }
    JsonObject batch = new JsonObject(body);
    String m = batch.getString("merchantId");
    JsonArray events = batch.getJsonArray("events");
    long first = events.getJsonObject(0).getLong("seq");
    long last = events.getJsonObject(events.size() - 1).getLong("seq");
    long now = System.currentTimeMillis();
    deliveries.add(new Delivery(id, m, first, last, now, body));
    if (first <= acked.getOrDefault(m, 0L)) {
      Long okAt = answered2xxAt.get(id);
      resent.add(
          m
              + ": seq "
              + first
              + " sent again although "
              + acked.get(m)
              + " was acked"
              + (okAt == null
                  ? " (a new batch id)"
                  : " (a retry of " + id + ", answered 2xx " + (now - okAt) + " ms before)"));
    }
    int attempt = attemptsByBatch.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
    switch (script.decide(m, first, attempt)) {
      case OK -> {
        apply(m, events);
        acked.merge(m, last, Math::max);
        answered2xxAt.put(id, System.currentTimeMillis());
        req.response().setStatusCode(204).end();
      }
      case FAIL -> req.response().setStatusCode(500).end("boom");
      case TIMEOUT -> vertx.setTimer(1500, t -> req.response().setStatusCode(500).end());
      case DROP -> req.connection().close();
      case GONE -> req.response().setStatusCode(410).end();
      case TOO_MANY ->
          req.response()
              .setStatusCode(429)
              .putHeader("Retry-After", Integer.toString(retryAfterSeconds))
              .end();
      case FAIL_LATER ->
          req.response()
              .setStatusCode(500)
              .putHeader("Retry-After", Integer.toString(retryAfterSeconds))
              .end("down for maintenance");
    }
  }

  private void apply(String m, JsonArray events) {
    for (int i = 0; i < events.size(); i++) {
      long seq = events.getJsonObject(i).getLong("seq");
      long last = applied.getOrDefault(m, 0L);
      if (seq == last + 1) {
        applied.put(m, seq);
      } else if (seq > last + 1) {
        violations.add(m + ": gap, seq " + seq + " after " + last);
      }
    }
  }

  /** Every request for this merchant, in arrival order, with its answer (failure messages). */
  String history(String merchantId) {
    StringBuilder sb = new StringBuilder();
    for (Delivery d : deliveriesOf(merchantId)) {
      Long ok = answered2xxAt.get(d.id());
      sb.append("\n  ")
          .append(d.atMillis())
          .append(' ')
          .append(d.id())
          .append(' ')
          .append(d.first())
          .append("..")
          .append(d.last())
          .append(ok == null ? "" : " (this id answered 2xx at " + ok + ")");
    }
    return sb.toString();
  }

  List<Delivery> deliveriesOf(String merchantId) {
    return deliveries.stream().filter(d -> d.merchantId().equals(merchantId)).toList();
  }

  @Override
  public void close() {
    vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }
}
