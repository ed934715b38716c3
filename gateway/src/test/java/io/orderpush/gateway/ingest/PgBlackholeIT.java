package io.orderpush.gateway.ingest;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamClient;
import io.orderpush.gateway.testing.TcpProxy;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL vanishes without a reset (a black-holing proxy between the gateway and the server):
 * ingest must answer 503 within the client timeout, not after the kernel's retransmission timeout,
 * and ingest and delivery must resume on fresh connections once the server is reachable again.
 */
class PgBlackholeIT {

  // short, so that each refusal (the client timeout) and the stop (its connections time out the
  // same way) take 2 s rather than 4; the client timeout is at least the query timeout + 1 s
  static final int QUERY_TIMEOUT_MS = 1000;
  static final int CLIENT_TIMEOUT_MS = 2000;
  static final Duration WAIT = Duration.ofSeconds(60);

  TcpProxy proxy;
  TestGateway gw;
  final Vertx vertx = Vertx.vertx();
  final List<UUID> apps = new ArrayList<>();

  @BeforeEach
  void start() {
    URI pg = URI.create(TestServices.pgUrl());
    proxy = TcpProxy.start(pg.getHost(), pg.getPort() == -1 ? 5432 : pg.getPort());
    String viaProxy =
        pg.getScheme()
            + "://"
            + pg.getRawUserInfo()
            + "@127.0.0.1:"
            + proxy.port()
            + pg.getRawPath();
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_PG_URL", viaProxy,
                "GATEWAY_PG_QUERY_TIMEOUT_MS", Integer.toString(QUERY_TIMEOUT_MS),
                "GATEWAY_PG_CLIENT_TIMEOUT_MS", Integer.toString(CLIENT_TIMEOUT_MS)));
  }

  @AfterEach
  void stop() {
    proxy.forward();
    for (UUID id : apps) {
      gw.send("DELETE", "/v1/apps/" + id, TestGateway.ADMIN_TOKEN, null);
    }
    gw.close();
    proxy.close();
    vertx.close().toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }

  @Test
  void shouldAnswer503WithinTheClientTimeoutWhilePostgresqlIsBlackHoledAndResumeAfter() {
    String merchant = TestServices.uniqueMerchant("blackhole");
    String liveApp = app(merchant);
    String lateApp = app(merchant);
    Consumer live = Consumer.connect(vertx, gw.port, liveApp);

    List<String> before = ids("before", 20);
    assertThat(ingest(merchant, before).statusCode()).isEqualTo(200);
    Await.until("the events before delivered", WAIT, () -> live.ids.containsAll(before));

    proxy.blackhole();
    List<String> during = ids("during", 5);
    long started = System.nanoTime();
    HttpResponse<String> refused = ingest(merchant, during);
    long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
    System.out.printf(
        "PgBlackholeIT: ingest answered %d after %d ms%n", refused.statusCode(), tookMs);
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
    // A second request meets the connection the pool opens meanwhile, silent from its handshake.
    HttpResponse<String> refusedAgain = ingest(merchant, during);
    assertThat(refusedAgain.statusCode()).as(refusedAgain.body()).isEqualTo(503);

    proxy.forward();
    // The marketplace retries what was refused, with the same ids, until it is answered 200.
    Await.until(
        "ingest to answer 200 again", WAIT, () -> ingest(merchant, during).statusCode() == 200);
    List<String> after = ids("after", 20);
    assertThat(ingest(merchant, after).statusCode()).isEqualTo(200);

    List<String> all = new ArrayList<>(before);
    all.addAll(during);
    all.addAll(after);
    Await.until(
        "every event delivered to the consumer that stayed",
        WAIT,
        () -> live.ids.containsAll(all),
        () -> "got " + live.ids.size());
    // A consumer connecting now reads the whole log back through the delivery pool.
    Consumer late = Consumer.connect(vertx, gw.port, lateApp);
    Await.until(
        "every event delivered to a consumer that starts now",
        WAIT,
        () -> late.ids.containsAll(all),
        () -> "got " + late.ids.size());
    long head = all.size();
    for (Consumer c : List.of(live, late)) {
      assertThat(c.seqs)
          .containsExactlyElementsOf(LongStream.rangeClosed(1, head).boxed().toList());
      assertThat(c.ids).containsExactlyElementsOf(all);
    }
  }

  private String app(String merchant) {
    HttpResponse<String> created =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject()
                .put("name", "pg-blackhole-it")
                .put("delivery", new JsonObject().put("mode", "websocket"))
                .encode());
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    JsonObject body = new JsonObject(created.body());
    UUID id = UUID.fromString(body.getString("appId"));
    apps.add(id);
    HttpResponse<String> granted =
        gw.send(
            "PUT",
            "/v1/merchants/" + merchant + "/grants/" + id,
            TestGateway.ADMIN_TOKEN,
            "{\"start\":\"earliest\"}");
    assertThat(granted.statusCode()).as(granted.body()).isEqualTo(200);
    return body.getString("token");
  }

  private HttpResponse<String> ingest(String merchant, List<String> eventIds) {
    return gw.ingest(
        Events.batch(eventIds.stream().map(id -> Events.event(merchant, id)).toList()));
  }

  private static List<String> ids(String prefix, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(prefix + "-" + i + "-" + UUID.randomUUID());
    }
    return out;
  }

  /** A WebSocket consumer that records every event it is sent, in order, and acks each batch. */
  static final class Consumer {
    final List<Long> seqs = new CopyOnWriteArrayList<>();
    final List<String> ids = new CopyOnWriteArrayList<>();
    private final Vertx vertx;
    private volatile StreamClient client;

    private Consumer(Vertx vertx) {
      this.vertx = vertx;
    }

    static Consumer connect(Vertx vertx, int port, String token) {
      Consumer c = new Consumer(vertx);
      c.client =
          StreamClient.connect(vertx, port, token, c::received)
              .toCompletionStage()
              .toCompletableFuture()
              .orTimeout(10, TimeUnit.SECONDS)
              .join();
      return c;
    }

    private void received(String merchant, JsonArray events) {
      for (int i = 0; i < events.size(); i++) {
        JsonObject e = events.getJsonObject(i);
        seqs.add(e.getLong("seq"));
        ids.add(e.getString("eventId"));
      }
      ack(merchant, events.getJsonObject(events.size() - 1).getLong("seq"));
    }

    /** Acks, waiting for the test thread to have the client if events came first. */
    private void ack(String merchant, long seq) {
      StreamClient c = client;
      if (c == null) {
        vertx.setTimer(10, id -> ack(merchant, seq));
      } else {
        c.ack(merchant, seq);
      }
    }
  }
}
