package io.orderpush.gateway.demo;

import io.orderpush.client.Batch;
import io.orderpush.client.ConsumerListener;
import io.orderpush.client.ConsumerOptions;
import io.orderpush.client.Event;
import io.orderpush.client.MemoryAppliedStore;
import io.orderpush.client.StreamConsumer;
import io.orderpush.gateway.Gateway;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.net.URI;
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
  // Held for the life of the demo.
  private volatile StreamConsumer<Void> consumer;
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
                // The ISV's side, as an ISV writes it: the client library (client/), which acks
                // after the handler and skips what it already applied. Its connect does not block,
                // but it is not ours to run on an event loop.
                gateway
                    .vertx()
                    .executeBlocking(
                        () ->
                            StreamConsumer.start(
                                URI.create("http://127.0.0.1:" + gateway.config().http().port()),
                                token,
                                new MemoryAppliedStore(),
                                Demo::print,
                                ConsumerOptions.defaults(),
                                new ConsumerListener() {
                                  @Override
                                  public void assigned(List<String> merchants) {
                                    System.out.println("consumer: assigned " + merchants);
                                  }

                                  @Override
                                  public void serverError(String code, String message) {
                                    System.out.println("consumer: " + code + ": " + message);
                                  }
                                })))
        .onSuccess(c -> consumer = c)
        .onFailure(err -> System.out.println("consumer: could not start: " + err.getMessage()));
  }

  /** The sample consumer's work: print each event. */
  private static void print(Batch batch, Void tx) {
    for (Event e : batch.events()) {
      System.out.println(
          "consumer: "
              + batch.merchantId()
              + " seq="
              + e.seq()
              + " "
              + e.type()
              + " "
              + e.orderId()
              + " "
              + e.data());
    }
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
