package io.orderpush.gateway.stream;

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
 * A callback receiver for the multi-node tests: it records how many requests of each merchant are
 * open at once (the gateway promises one batch in flight per channel in the whole cluster), applies
 * each merchant's events in seq order, and answers 204 after {@link #delayMs}, so batches stay in
 * flight long enough to overlap if two nodes sent them.
 */
final class Hook implements AutoCloseable {

  /** One request as it arrived. */
  record Post(String merchantId, long first, long last, long atMillis) {}

  final Vertx vertx = Vertx.vertx();
  final HttpServer server;
  final Map<String, AtomicInteger> open = new ConcurrentHashMap<>();
  final Map<String, Long> applied = new ConcurrentHashMap<>();
  final List<Post> posts = new CopyOnWriteArrayList<>();

  /** Two requests of one merchant open at once, gaps: never legal. */
  final List<String> violations = new CopyOnWriteArrayList<>();

  volatile long delayMs;

  Hook(long delayMs) {
    this.delayMs = delayMs;
    server = vertx.createHttpServer().requestHandler(this::handle);
    server
        .listen(0, "127.0.0.1")
        .toCompletionStage()
        .toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS)
        .join();
  }

  String url() {
    return "http://127.0.0.1:" + server.actualPort() + "/hook";
  }

  private void handle(HttpServerRequest req) {
    req.body()
        .onSuccess(
            buf -> {
              JsonObject batch = new JsonObject(buf.toString());
              String m = batch.getString("merchantId");
              JsonArray events = batch.getJsonArray("events");
              long first = events.getJsonObject(0).getLong("seq");
              long last = events.getJsonObject(events.size() - 1).getLong("seq");
              posts.add(new Post(m, first, last, System.currentTimeMillis()));
              AtomicInteger n = open.computeIfAbsent(m, k -> new AtomicInteger());
              if (n.incrementAndGet() > 1) {
                violations.add(
                    m + ": a request for " + first + ".." + last + " while another was open");
              }
              vertx.setTimer(
                  Math.max(1, delayMs),
                  t -> {
                    apply(m, events);
                    n.decrementAndGet(); // before the answer: the gateway cannot see it earlier
                    req.response().setStatusCode(204).end();
                  });
            });
  }

  private synchronized void apply(String m, JsonArray events) {
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

  List<Post> postsOf(String merchantId) {
    return posts.stream().filter(p -> p.merchantId().equals(merchantId)).toList();
  }

  @Override
  public void close() {
    vertx.close().toCompletionStage().toCompletableFuture().orTimeout(10, TimeUnit.SECONDS).join();
  }
}
