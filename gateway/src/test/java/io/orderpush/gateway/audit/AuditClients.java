package io.orderpush.gateway.audit;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntFunction;

/** The consumers the audit tests deliver to, over real sockets: a WebSocket app, an endpoint. */
final class AuditClients {

  private AuditClients() {}

  /** One batch as the consumer saw it. */
  record Batch(String merchantId, long first, long last) {}

  /** A WebSocket consumer acking every message, remembering each message's seq range. */
  static final class Consumer implements AutoCloseable {
    final WebSocketClient client;
    final WebSocket ws;
    final List<Batch> batches = new CopyOnWriteArrayList<>();
    final AtomicReference<String> connectionId = new AtomicReference<>();
    final AtomicReference<Throwable> failure = new AtomicReference<>();

    Consumer(Vertx vertx, int port, String token) {
      client = vertx.createWebSocketClient();
      // The handler is in place (on the connection's event loop) before the first message can
      // arrive: set from the test thread after the connect, it could miss the hello.
      ws =
          join(
              client
                  .connect(
                      new WebSocketConnectOptions()
                          .setHost("127.0.0.1")
                          .setPort(port)
                          .setURI("/v1/stream")
                          .addHeader("Authorization", "Bearer " + token))
                  .map(
                      socket -> {
                        socket.textMessageHandler(text -> onMessage(socket, text));
                        return socket;
                      }));
    }

    private void onMessage(WebSocket socket, String text) {
      try {
        JsonObject m = new JsonObject(text);
        switch (m.getString("type")) {
          case "hello" -> connectionId.set(m.getString("connectionId"));
          case "events" -> {
            JsonArray events = m.getJsonArray("events");
            long first = events.getJsonObject(0).getLong("seq");
            long last = events.getJsonObject(events.size() - 1).getLong("seq");
            batches.add(new Batch(m.getString("merchantId"), first, last));
            socket.writeTextMessage(
                new JsonObject()
                    .put("type", "ack")
                    .put("merchantId", m.getString("merchantId"))
                    .put("seq", last)
                    .encode());
          }
          case "error" -> throw new AssertionError("the gateway sent an error: " + text);
          default -> {}
        }
      } catch (Throwable t) {
        failure.compareAndSet(null, t);
      }
    }

    long received(String merchantId) {
      check();
      return batches.stream()
          .filter(b -> b.merchantId().equals(merchantId))
          .mapToLong(Batch::last)
          .max()
          .orElse(0);
    }

    void check() {
      if (failure.get() != null) {
        throw new AssertionError(failure.get().getMessage(), failure.get());
      }
    }

    @Override
    public void close() {
      join(ws.close());
      check();
    }
  }

  /**
   * A callback endpoint: answers each POST as {@code script} says for its attempt (1, 2, ...) of
   * that batch id: an HTTP status, or 0 to close the connection without an answer.
   */
  static final class Endpoint implements AutoCloseable {
    final Vertx vertx;
    final HttpServer server;
    final Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
    final List<Integer> answered = new CopyOnWriteArrayList<>();
    final List<String> webhookIds = new CopyOnWriteArrayList<>();
    final List<String> bodies = new CopyOnWriteArrayList<>();

    /** When set, each answer waits for it (a POST held in flight). */
    volatile io.vertx.core.Promise<Void> hold;

    Endpoint(Vertx vertx, IntFunction<Integer> script) {
      this.vertx = vertx;
      server =
          join(
              vertx
                  .createHttpServer()
                  .requestHandler(
                      req ->
                          req.body()
                              .onSuccess(
                                  body -> {
                                    int attempt =
                                        attempts
                                            .computeIfAbsent(
                                                req.getHeader("webhook-id"),
                                                k -> new AtomicInteger())
                                            .incrementAndGet();
                                    int status = script.apply(attempt);
                                    answered.add(status);
                                    webhookIds.add(req.getHeader("webhook-id"));
                                    bodies.add(body.toString());
                                    io.vertx.core.Promise<Void> held = hold;
                                    (held == null
                                            ? io.vertx.core.Future.<Void>succeededFuture()
                                            : held.future())
                                        .onComplete(
                                            x -> {
                                              if (status == 0) {
                                                req.connection().close();
                                              } else {
                                                // a body longer than the delivery log keeps
                                                req.response()
                                                    .setStatusCode(status)
                                                    .end(
                                                        "answer " + status + " " + "x".repeat(400));
                                              }
                                            });
                                  }))
                  .listen(0, "127.0.0.1"));
    }

    String url() {
      return "http://127.0.0.1:" + server.actualPort() + "/hooks/orders";
    }

    @Override
    public void close() {
      join(server.close());
    }
  }

  static <T> T join(io.vertx.core.Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }
}
