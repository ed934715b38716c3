package io.orderpush.gateway.demo;

import io.orderpush.gateway.Gateway;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * Demo mode: a simulated marketplace posts order life cycles of a few merchants to the gateway's
 * own ingest API, and a sample consumer, an app registered and granted through the operator API,
 * receives them over WebSocket push, prints them and acks them.
 */
public final class Demo {

  static final List<String> MERCHANTS = List.of("m-tea-house", "m-sneakers", "m-bookshop");
  static final String[] LIFE_CYCLE = {
    "order.created", "order.paid", "order.shipped", "order.completed"
  };
  static final long TICK_MS = 1000;

  private final Gateway gateway;
  private final HttpClient http;
  // Held for the life of the demo: Vert.x closes a client (and its connections) once unreachable.
  private final WebSocketClient webSockets;
  private final Random random = new Random();
  private final long[] nextOrder = new long[MERCHANTS.size()];

  private Demo(Gateway gateway) {
    this.gateway = gateway;
    Vertx vertx = gateway.vertx();
    this.http =
        vertx.createHttpClient(
            new HttpClientOptions()
                .setDefaultHost("127.0.0.1")
                .setDefaultPort(gateway.config().http().port())
                .setConnectTimeout(2000));
    this.webSockets =
        vertx.createWebSocketClient(new WebSocketClientOptions().setMaxMessageSize(8 << 20));
  }

  public static void start(Gateway gateway) {
    Demo demo = new Demo(gateway);
    System.out.println(
        "demo: a simulated marketplace posts orders of "
            + MERCHANTS
            + " every second; "
            + "a sample WebSocket consumer prints what it receives and acks it. Ctrl-C stops.");
    demo.startConsumer();
    gateway.vertx().setPeriodic(TICK_MS, id -> demo.postOrders());
  }

  /** One new order per merchant per tick, each sent through its whole life cycle in one batch. */
  private void postOrders() {
    StringBuilder ndjson = new StringBuilder();
    for (int m = 0; m < MERCHANTS.size(); m++) {
      String orderId = "o-" + (++nextOrder[m]);
      int amount = 10 + random.nextInt(990);
      for (String type : LIFE_CYCLE) {
        ndjson
            .append("{\"eventId\":\"")
            .append(UUID.randomUUID())
            .append("\",\"merchantId\":\"")
            .append(MERCHANTS.get(m))
            .append("\",\"orderId\":\"")
            .append(orderId)
            .append("\",\"type\":\"")
            .append(type)
            .append("\",\"occurredAt\":\"")
            .append(Instant.now())
            .append("\",\"data\":{\"amount\":\"")
            .append(amount)
            .append(".00\",\"currency\":\"CNY\"}}\n");
      }
    }
    RequestOptions req =
        new RequestOptions()
            .setMethod(HttpMethod.POST)
            .setURI("/v1/events")
            .putHeader("Authorization", "Bearer " + gateway.config().security().ingestToken())
            .putHeader("Content-Type", "application/x-ndjson")
            .setTimeout(10_000);
    http.request(req)
        .compose(r -> r.send(Buffer.buffer(ndjson.toString())))
        .compose(resp -> resp.body().map(b -> resp.statusCode() + " " + b))
        .onSuccess(
            s -> {
              if (!s.startsWith("200")) System.out.println("marketplace: ingest answered " + s);
            })
        .onFailure(err -> System.out.println("marketplace: ingest failed: " + err.getMessage()));
  }

  /**
   * The sample consumer: registers a WebSocket app granted the demo merchants through the operator
   * API, then connects like an ISV would, prints every event it receives, and acks it.
   */
  private void startConsumer() {
    String admin = "Bearer " + gateway.config().security().adminToken();
    postJson(
            HttpMethod.POST,
            "/v1/apps",
            admin,
            "{\"name\":\"demo-erp\",\"delivery\":{\"mode\":\"websocket\"}}")
        .compose(
            app -> {
              JsonObject created = new JsonObject(app);
              String appId = created.getString("appId");
              Future<String> grants = Future.succeededFuture();
              for (String m : MERCHANTS) {
                grants =
                    grants.compose(
                        x ->
                            postJson(
                                HttpMethod.PUT,
                                "/v1/merchants/" + m + "/grants/" + appId,
                                admin,
                                "{\"start\":\"latest\"}"));
              }
              return grants.map(created.getString("token"));
            })
        .compose(
            token ->
                webSockets.connect(
                    new WebSocketConnectOptions()
                        .setHost("127.0.0.1")
                        .setPort(gateway.config().http().port())
                        .setURI("/v1/stream")
                        .addHeader("Authorization", "Bearer " + token)))
        .onSuccess(
            ws ->
                ws.textMessageHandler(
                    text -> {
                      JsonObject msg = new JsonObject(text);
                      if (!"events".equals(msg.getString("type"))) {
                        System.out.println("consumer: " + text);
                        return;
                      }
                      String m = msg.getString("merchantId");
                      JsonArray events = msg.getJsonArray("events");
                      for (int i = 0; i < events.size(); i++) {
                        JsonObject e = events.getJsonObject(i);
                        System.out.println(
                            "consumer: "
                                + m
                                + " seq="
                                + e.getLong("seq")
                                + " "
                                + e.getString("type")
                                + " "
                                + e.getString("orderId")
                                + " "
                                + e.getJsonObject("data").encode());
                      }
                      long last = events.getJsonObject(events.size() - 1).getLong("seq");
                      ws.writeTextMessage(
                          new JsonObject()
                              .put("type", "ack")
                              .put("merchantId", m)
                              .put("seq", last)
                              .encode());
                    }))
        .onFailure(err -> System.out.println("consumer: could not start: " + err.getMessage()));
  }

  private Future<String> postJson(HttpMethod method, String uri, String auth, String body) {
    RequestOptions req =
        new RequestOptions()
            .setMethod(method)
            .setURI(uri)
            .putHeader("Authorization", auth)
            .putHeader("Content-Type", "application/json")
            .setTimeout(10_000);
    return http.request(req)
        .compose(r -> r.send(Buffer.buffer(body)))
        .compose(
            resp ->
                resp.body()
                    .map(
                        b -> {
                          if (resp.statusCode() >= 300) {
                            throw new IllegalStateException(
                                uri + " answered " + resp.statusCode() + " " + b);
                          }
                          return b.toString();
                        }));
  }
}
