package io.orderpush.gateway.masking;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Guarantee 6 on the wire: what WebSocket push, callbacks and replay put on the wire for apps with
 * and without the {@code pii} scope, as raw text, through a real gateway, PostgreSQL and Redis.
 */
class MaskingIT {

  static final Duration WAIT = Duration.ofSeconds(30);

  /** An order as a marketplace sends it: buyer, receiver, shipping address, and other data. */
  static final String DATA =
      "{\"buyer\":{\"id\":\"b-1\",\"name\":\"张三\",\"phone\":\"+86-13812345678\","
          + "\"email\":\"zhang.san@example.com\"},"
          + "\"receiver\":{\"name\":\"Zhang San\",\"mobile\":\"13812345678\","
          + "\"address\":\"浙江省杭州市西湖区文三路 100 号\"},"
          + "\"address\":{\"province\":\"浙江省\",\"lines\":[\"西湖区文三路 100 号\",\"3 单元\"],\"zip\":310012},"
          + "\"items\":[{\"sku\":\"SKU-1\",\"qty\":2,\"price\":12.50}],\"note\":\"gift 🎁\"}";

  /** The same with its personal data masked as PRODUCT.md says, every other byte as it was. */
  static final String MASKED =
      "{\"buyer\":{\"id\":\"b-1\",\"name\":\"张*\",\"phone\":\"+86-138****5678\","
          + "\"email\":\"z***@example.com\"},"
          + "\"receiver\":{\"name\":\"Z********\",\"mobile\":\"138****5678\","
          + "\"address\":\"浙江省杭州市****\"},"
          + "\"address\":{\"province\":\"****\",\"lines\":[\"****\",\"****\"],\"zip\":\"****\"},"
          + "\"items\":[{\"sku\":\"SKU-1\",\"qty\":2,\"price\":12.50}],\"note\":\"gift 🎁\"}";

  /** Pieces of the personal data that no masked rendering may carry. */
  static final List<String> RAW =
      List.of("张三", "13812345678", "1234", "zhang.san", "Zhang San", "西湖区", "文三路 100", "310012");

  static TestGateway gw;
  static final Vertx vertx = Vertx.vertx();
  final List<UUID> apps = new ArrayList<>();
  final List<AutoCloseable> closing = new ArrayList<>();

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "50",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "200"));
  }

  @AfterAll
  static void stop() {
    gw.close();
    join(vertx.close());
  }

  @AfterEach
  void cleanUp() throws Exception {
    for (AutoCloseable c : closing) {
      c.close();
    }
    for (UUID id : apps) {
      join(
          gw.gateway
              .pool()
              .preparedQuery("DELETE FROM apps WHERE app_id = $1")
              .execute(Tuple.of(id)));
    }
  }

  @Test
  void webSocketPushMasksPersonalDataUnlessTheGrantHasPii() {
    String merchant = TestServices.uniqueMerchant("mask-ws");
    App plain = app("websocket", null);
    App pii = app("websocket", null);
    grant(plain, merchant, false);
    grant(pii, merchant, true);
    Consumer plainWire = consume(plain);
    Consumer piiWire = consume(pii);
    ingest(merchant, 3);

    Await.until(
        "both consumers got 3 events", WAIT, () -> plainWire.seen() == 3 && piiWire.seen() == 3);
    assertMasked(plainWire.frames(), 3);
    assertWhole(piiWire.frames(), 3);
  }

  @Test
  void callbacksMaskPersonalDataUnlessTheGrantHasPii() {
    String merchant = TestServices.uniqueMerchant("mask-cb");
    Hooks plainHooks = hooks();
    Hooks piiHooks = hooks();
    App plain = app("callback", plainHooks.url());
    App pii = app("callback", piiHooks.url());
    grant(plain, merchant, false);
    grant(pii, merchant, true);
    ingest(merchant, 3);

    Await.until(
        "both endpoints got 3 events", WAIT, () -> plainHooks.seen() == 3 && piiHooks.seen() == 3);
    assertMasked(plainHooks.bodies, 3);
    assertWhole(piiHooks.bodies, 3);
  }

  @Test
  void replayMasksPersonalDataUnlessTheGrantHasPii() {
    String merchant = TestServices.uniqueMerchant("mask-replay");
    App plain = app("websocket", null);
    App pii = app("websocket", null);
    grant(plain, merchant, false);
    grant(pii, merchant, true);
    ingest(merchant, 3);

    assertMasked(List.of(replay(plain, merchant)), 3);
    assertWhole(List.of(replay(pii, merchant)), 3);
  }

  @Test
  void aGrantGainingAndLosingPiiWhileAConsumerIsAttachedAppliesFromTheNextBatch() {
    String merchant = TestServices.uniqueMerchant("mask-scope");
    App ws = app("websocket", null);
    Hooks hooks = hooks();
    App cb = app("callback", hooks.url());
    grant(ws, merchant, false);
    grant(cb, merchant, false);
    Consumer wire = consume(ws);

    ingest(merchant, 1);
    Await.until("seq 1 delivered", WAIT, () -> wire.seen() == 1 && hooks.seen() == 1);
    grant(ws, merchant, true);
    grant(cb, merchant, true);
    ingest(merchant, 1);
    Await.until("seq 2 delivered", WAIT, () -> wire.seen() == 2 && hooks.seen() == 2);
    grant(ws, merchant, false);
    grant(cb, merchant, false);
    ingest(merchant, 1);
    Await.until("seq 3 delivered", WAIT, () -> wire.seen() == 3 && hooks.seen() == 3);

    for (List<String> wireText : List.of(wire.frames(), List.copyOf(hooks.bodies))) {
      assertThat(wireText).hasSize(3);
      assertMasked(wireText.subList(0, 1), 1);
      assertWhole(wireText.subList(1, 2), 1);
      assertMasked(wireText.subList(2, 3), 1);
    }
  }

  @Test
  void eventsStoredWithoutAMaskedRenderingAreMaskedWhenRead() {
    String merchant = TestServices.uniqueMerchant("mask-legacy");
    App plain = app("websocket", null);
    App pii = app("websocket", null);
    grant(plain, merchant, false);
    grant(pii, merchant, true);
    ingest(merchant, 3);
    // As chunks written before masking existed, or under another path list, look.
    join(
        gw.gateway
            .pool()
            .preparedQuery(
                "UPDATE event_chunks SET masked = NULL, masked_by = NULL WHERE merchant_id = $1")
            .execute(Tuple.of(merchant)));

    assertMasked(List.of(replay(plain, merchant)), 3);
    assertWhole(List.of(replay(pii, merchant)), 3);
  }

  @Test
  void theLogStoresAnEventsMasksBesideItAndNotItsWholeMaskedRendering() {
    String merchant = TestServices.uniqueMerchant("mask-patched");
    App plain = app("websocket", null);
    App pii = app("websocket", null);
    grant(plain, merchant, false);
    grant(pii, merchant, true);
    ingest(merchant, 3);

    io.vertx.sqlclient.RowSet<io.vertx.sqlclient.Row> rows =
        join(
            gw.gateway
                .pool()
                .preparedQuery(
                    "SELECT length(events), length(masked), masked, masked_by FROM event_chunks"
                        + " WHERE merchant_id = $1")
                .execute(Tuple.of(merchant)));
    assertThat(rows.size()).isPositive();
    for (io.vertx.sqlclient.Row row : rows) {
      assertThat(row.getString(3)).startsWith("patch:");
      assertThat(row.getInteger(1)).isLessThan(row.getInteger(0) / 3);
      assertThat(row.getString(2)).doesNotContain("\"seq\"");
      RAW.forEach(raw -> assertThat(row.getString(2)).doesNotContain(raw));
    }
    assertMasked(List.of(replay(plain, merchant)), 3);
    assertWhole(List.of(replay(pii, merchant)), 3);
  }

  @Test
  void aDamagedPatchColumnIsMaskedWhileReadNeitherSentAsItIsNorFailingTheRead() {
    String merchant = TestServices.uniqueMerchant("mask-damaged");
    App plain = app("websocket", null);
    grant(plain, merchant, false);
    ingest(merchant, 3);
    // one patch that is not one, and a line short: the column holds two lines for three events
    join(
        gw.gateway
            .pool()
            .preparedQuery(
                "UPDATE event_chunks SET masked = 'garbage' || E'\\n' || 'x,1,2'"
                    + " WHERE merchant_id = $1 AND masked_by LIKE 'patch:%'")
            .execute(Tuple.of(merchant)));

    assertMasked(List.of(replay(plain, merchant)), 3);
  }

  @Test
  void chunksAnEarlierVersionStoredWithTheirWholeMaskedRenderingAreTrustedAsTheyAre() {
    String merchant = TestServices.uniqueMerchant("mask-whole");
    App plain = app("websocket", null);
    grant(plain, merchant, false);
    ingest(merchant, 2);
    // As a node before patches wrote them (a rolling upgrade): the masked rendering of the whole
    // chunk under the same rules' fingerprint. Marked, to tell it from a rendering made on read.
    join(
        gw.gateway
            .pool()
            .preparedQuery(
                "UPDATE event_chunks SET masked = replace(events, '\"name\":\"张三\"',"
                    + " '\"name\":\"stored whole\"'), masked_by = substr(masked_by, 7)"
                    + " WHERE merchant_id = $1 AND masked_by LIKE 'patch:%'")
            .execute(Tuple.of(merchant)));

    String replayed = replay(plain, merchant);
    assertThat(replayed.split("stored whole", -1)).hasSize(3);
  }

  @Test
  void eventsWithAndWithoutPersonalDataInOneChunkEachGoOutAsTheirOwn() {
    String merchant = TestServices.uniqueMerchant("mask-mixed");
    App plain = app("websocket", null);
    grant(plain, merchant, false);
    String nothingToMask = "{\"buyer\":\"b-1\",\"items\":[{\"sku\":\"SKU-2\",\"price\":1.10}]}";
    List<String> data = List.of(nothingToMask, nothingToMask, DATA, nothingToMask, DATA);
    String body =
        data.stream()
            .map(
                d ->
                    "{\"eventId\":\""
                        + UUID.randomUUID()
                        + "\",\"merchantId\":\""
                        + merchant
                        + "\",\"orderId\":\"o-1\",\"type\":\"order.paid\","
                        + "\"occurredAt\":\"2026-11-11T00:00:01.250Z\",\"data\":"
                        + d
                        + "}")
            .collect(java.util.stream.Collectors.joining(",", "[", "]"));
    HttpResponse<String> r = gw.ingest(body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);

    assertThat(dataOf(List.of(replay(plain, merchant))))
        .containsExactly(nothingToMask, nothingToMask, MASKED, nothingToMask, MASKED);
  }

  @Test
  void aCustomPathListMasksItsPathsOnly() {
    try (TestGateway custom =
        TestGateway.start(Map.of("GATEWAY_MASKING_PATHS", "buyer.phone,items.sku:full"))) {
      String merchant = TestServices.uniqueMerchant("mask-custom");
      App plain = app(custom, "websocket", null);
      grant(custom, plain, merchant, false);
      HttpResponse<String> r = custom.ingest(events(merchant, 1));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);

      List<String> data = dataOf(List.of(replay(custom, plain, merchant)));
      assertThat(data)
          .containsExactly(
              DATA.replace("+86-13812345678", "+86-138****5678")
                  .replace("\"sku\":\"SKU-1\"", "\"sku\":\"****\""));
    }
  }

  // ------------------------------------------------------------------ assertions

  /**
   * Every event on the wire has exactly the masked data, and no raw personal data is in any event's
   * data (not searched in ids and times, where a random UUID may hold "1234").
   */
  static void assertMasked(List<String> wire, int events) {
    String all = String.join("\n", dataOf(wire));
    for (String raw : RAW) {
      assertThat(all).as("raw personal data on the wire").doesNotContain(raw);
    }
    assertThat(dataOf(wire)).hasSize(events).allSatisfy(d -> assertThat(d).isEqualTo(MASKED));
  }

  static void assertWhole(List<String> wire, int events) {
    assertThat(dataOf(wire)).hasSize(events).allSatisfy(d -> assertThat(d).isEqualTo(DATA));
  }

  /** The raw text of each event's data member, as sent (data is an event's last member). */
  static List<String> dataOf(List<String> wire) {
    List<String> out = new ArrayList<>();
    for (String text : wire) {
      int at = 0;
      while ((at = text.indexOf(",\"data\":", at)) >= 0) {
        int start = at + 8;
        int depth = 0;
        int end = start;
        boolean inString = false;
        for (; end < text.length(); end++) {
          char c = text.charAt(end);
          if (inString) {
            if (c == '\\') {
              end++;
            } else if (c == '"') {
              inString = false;
            }
          } else if (c == '"') {
            inString = true;
          } else if (c == '{') {
            depth++;
          } else if (c == '}' && --depth == 0) {
            break;
          }
        }
        out.add(text.substring(start, end + 1));
        at = end;
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ apps, events, wire

  record App(UUID id, String token) {}

  App app(String mode, String url) {
    return app(gw, mode, url);
  }

  App app(TestGateway g, String mode, String url) {
    JsonObject delivery = new JsonObject().put("mode", mode);
    if (url != null) {
      delivery.put("url", url);
    }
    HttpResponse<String> r =
        g.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject().put("name", "masking-it").put("delivery", delivery).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    UUID id = UUID.fromString(app.getString("appId"));
    apps.add(id);
    return new App(id, app.getString("token"));
  }

  void grant(App app, String merchant, boolean pii) {
    grant(gw, app, merchant, pii);
  }

  static void grant(TestGateway g, App app, String merchant, boolean pii) {
    HttpResponse<String> r =
        g.send(
            "PUT",
            "/v1/merchants/" + merchant + "/grants/" + app.id(),
            TestGateway.ADMIN_TOKEN,
            new JsonObject()
                .put("start", "earliest")
                .put("scopes", pii ? new JsonArray().add("pii") : new JsonArray())
                .encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(new JsonObject(r.body()).getJsonArray("scopes").contains("pii")).isEqualTo(pii);
  }

  /** An ingest body written out as text, so data's numbers reach the gateway as written. */
  static String events(String merchant, int n) {
    return IntStream.range(0, n)
        .mapToObj(
            i ->
                "{\"eventId\":\""
                    + UUID.randomUUID()
                    + "\",\"merchantId\":\""
                    + merchant
                    + "\",\"orderId\":\"o-1\",\"type\":\"order.paid\","
                    + "\"occurredAt\":\"2026-11-11T00:00:01.250Z\",\"data\":"
                    + DATA
                    + "}")
        .collect(java.util.stream.Collectors.joining(",", "[", "]"));
  }

  static void ingest(String merchant, int n) {
    HttpResponse<String> r = gw.ingest(events(merchant, n));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  String replay(App app, String merchant) {
    return replay(gw, app, merchant);
  }

  static String replay(TestGateway g, App app, String merchant) {
    HttpResponse<String> r =
        g.send("GET", "/v1/merchants/" + merchant + "/events?fromSeq=1", app.token(), null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return r.body();
  }

  /** A WebSocket consumer keeping every events message as raw text, acking each. */
  final class Consumer implements AutoCloseable {
    final List<String> frames = new CopyOnWriteArrayList<>();
    final List<String> failures = new CopyOnWriteArrayList<>();
    final WebSocketClient client = vertx.createWebSocketClient();
    WebSocket ws;

    int seen() {
      assertThat(failures).isEmpty();
      return dataOf(frames).size();
    }

    List<String> frames() {
      return List.copyOf(frames);
    }

    @Override
    public void close() {
      join(ws.close().transform(v -> client.close()));
    }
  }

  Consumer consume(App app) {
    Consumer c = new Consumer();
    WebSocketConnectOptions options =
        new WebSocketConnectOptions()
            .setHost("127.0.0.1")
            .setPort(gw.port)
            .setURI("/v1/stream")
            .addHeader("Authorization", "Bearer " + app.token());
    c.ws = join(c.client.connect(options));
    c.ws.textMessageHandler(
        text -> {
          try {
            JsonObject msg = new JsonObject(text);
            if ("events".equals(msg.getString("type"))) {
              c.frames.add(text);
              JsonArray events = msg.getJsonArray("events");
              long last = events.getJsonObject(events.size() - 1).getLong("seq");
              c.ws.writeTextMessage(
                  new JsonObject()
                      .put("type", "ack")
                      .put("merchantId", msg.getString("merchantId"))
                      .put("seq", last)
                      .encode());
            } else if ("error".equals(msg.getString("type"))) {
              c.failures.add(text);
            }
          } catch (RuntimeException e) {
            c.failures.add(e + " on " + text);
          }
        });
    closing.add(c);
    return c;
  }

  /** A callback endpoint keeping every request body as raw text, answering 204. */
  final class Hooks implements AutoCloseable {
    final List<String> bodies = new CopyOnWriteArrayList<>();
    HttpServer server;

    String url() {
      return "http://127.0.0.1:" + server.actualPort() + "/hooks";
    }

    int seen() {
      return dataOf(List.copyOf(bodies)).size();
    }

    @Override
    public void close() {
      join(server.close());
    }
  }

  Hooks hooks() {
    Hooks h = new Hooks();
    h.server =
        vertx
            .createHttpServer()
            .requestHandler(
                req ->
                    req.body()
                        .onSuccess(
                            b -> {
                              h.bodies.add(b.toString());
                              req.response().setStatusCode(204).end();
                            }));
    join(h.server.listen(0, "127.0.0.1"));
    closing.add(h);
    return h;
  }

  static <T> T join(io.vertx.core.Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }
}
