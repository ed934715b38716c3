package io.orderpush.gateway.demo;

import io.orderpush.gateway.Gateway;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * Demo mode: a simulated marketplace posts order life cycles of a few merchants to the gateway's
 * own ingest API, and a tail reads the sequenced events back from the log and prints them. (Until
 * push delivery exists, the tail stands in for the sample consumer.)
 */
public final class Demo {

  static final List<String> MERCHANTS = List.of("m-tea-house", "m-sneakers", "m-bookshop");
  static final String[] LIFE_CYCLE = {"order.created", "order.paid", "order.shipped", "order.completed"};
  static final long TICK_MS = 1000;

  private final Gateway gateway;
  private final HttpClient http;
  private final Random random = new Random();
  private final long[] nextOrder = new long[MERCHANTS.size()];
  private final long[] cursor = new long[MERCHANTS.size()];

  private Demo(Gateway gateway) {
    this.gateway = gateway;
    Vertx vertx = gateway.vertx();
    this.http = vertx.createHttpClient(new HttpClientOptions().setDefaultHost("127.0.0.1")
        .setDefaultPort(gateway.config().http().port()).setConnectTimeout(2000));
  }

  public static void start(Gateway gateway) {
    Demo demo = new Demo(gateway);
    System.out.println("demo: a simulated marketplace posts orders of " + MERCHANTS + " every second; "
        + "the sequenced events read back from the log follow. Ctrl-C stops.");
    gateway.vertx().setPeriodic(TICK_MS, id -> {
      demo.postOrders();
      demo.printNewEvents();
    });
  }

  /** One new order per merchant per tick, each sent through its whole life cycle in one batch. */
  private void postOrders() {
    StringBuilder ndjson = new StringBuilder();
    for (int m = 0; m < MERCHANTS.size(); m++) {
      String orderId = "o-" + (++nextOrder[m]);
      int amount = 10 + random.nextInt(990);
      for (String type : LIFE_CYCLE) {
        ndjson.append("{\"eventId\":\"").append(UUID.randomUUID())
            .append("\",\"merchantId\":\"").append(MERCHANTS.get(m))
            .append("\",\"orderId\":\"").append(orderId)
            .append("\",\"type\":\"").append(type)
            .append("\",\"occurredAt\":\"").append(Instant.now())
            .append("\",\"data\":{\"amount\":\"").append(amount).append(".00\",\"currency\":\"CNY\"}}\n");
      }
    }
    RequestOptions req = new RequestOptions().setMethod(HttpMethod.POST).setURI("/v1/events")
        .putHeader("Authorization", "Bearer " + gateway.config().security().ingestToken())
        .putHeader("Content-Type", "application/x-ndjson").setTimeout(10_000);
    http.request(req)
        .compose(r -> r.send(Buffer.buffer(ndjson.toString())))
        .compose(resp -> resp.body().map(b -> resp.statusCode() + " " + b))
        .onSuccess(s -> { if (!s.startsWith("200")) System.out.println("marketplace: ingest answered " + s); })
        .onFailure(err -> System.out.println("marketplace: ingest failed: " + err.getMessage()));
  }

  private void printNewEvents() {
    for (int m = 0; m < MERCHANTS.size(); m++) {
      int i = m;
      gateway.eventLog().read(gateway.pool(), MERCHANTS.get(m), cursor[m] + 1, 100)
          .onSuccess(events -> events.forEach(e -> {
            cursor[i] = e.seq();
            System.out.println(MERCHANTS.get(i) + " seq=" + e.seq() + " " + e.json());
          }));
    }
  }
}
