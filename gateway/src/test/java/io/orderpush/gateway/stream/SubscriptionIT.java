package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.SqlConnection;
import io.vertx.sqlclient.Transaction;
import io.vertx.sqlclient.Tuple;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Event-type subscriptions: a grant's {@code eventTypes} keep other types from the app on every
 * transport and replay, the app's cursors move past them (to the head, lag 0, when the newest
 * events are all left out), every delivered event's {@code prevSeq} is the seq of the one delivered
 * before it, and a change on a live grant applies to what is delivered next.
 */
class SubscriptionIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final List<String> SUBSCRIBED = List.of("order.paid", "order.refund*");

  static TestGateway gw;
  StreamFixture fx;
  HttpServer hooks;

  /** Every event JSON each merchant's consumer was sent, in arrival order. */
  final Map<String, List<JsonObject>> got = new ConcurrentHashMap<>();

  final BiConsumer<String, JsonArray> record =
      (m, events) ->
          events.forEach(
              e -> got.computeIfAbsent(m, k -> new CopyOnWriteArrayList<>()).add((JsonObject) e));

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS", "200"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @BeforeEach
  void fixture() {
    fx = new StreamFixture(gw);
  }

  @AfterEach
  void cleanUp() {
    if (hooks != null) {
      StreamFixture.join(hooks.close());
    }
    fx.close();
  }

  static boolean included(String type) {
    return type.equals("order.paid") || type.startsWith("order.refund");
  }

  /** Ingests one event of each type for {@code merchant}, in order; returns their seqs. */
  List<Long> ingest(String merchant, String... types) {
    List<JsonObject> events = new ArrayList<>();
    for (String t : types) {
      events.add(Events.event(merchant, UUID.randomUUID().toString()).put("type", t));
    }
    HttpResponse<String> r = gw.ingest(Events.batch(events));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    List<Long> seqs = new ArrayList<>();
    new JsonArray(r.body()).forEach(o -> seqs.add(((JsonObject) o).getLong("seq")));
    return seqs;
  }

  /** The seqs of {@code types}, ingested as {@code seqs}, that the subscription includes. */
  static List<Long> includedSeqs(List<Long> seqs, String[] types) {
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < types.length; i++) {
      if (included(types[i])) {
        out.add(seqs.get(i));
      }
    }
    return out;
  }

  HttpResponse<String> grant(TestApp app, String merchant, JsonObject body) {
    return gw.send(
        "PUT",
        "/v1/merchants/" + merchant + "/grants/" + app.id(),
        TestGateway.ADMIN_TOKEN,
        body.encode());
  }

  void subscribe(TestApp app, String merchant, List<String> types) {
    HttpResponse<String> r =
        grant(
            app,
            merchant,
            new JsonObject().put("start", "earliest").put("eventTypes", new JsonArray(types)));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(new JsonObject(r.body()).getJsonArray("eventTypes").getList())
        .containsExactlyElementsOf(types);
  }

  /** The app's channel of {@code merchant} as GET /v1/channels shows it. */
  JsonObject channel(TestApp app, String merchant) {
    HttpResponse<String> r = gw.send("GET", "/v1/channels?limit=500", app.token(), null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    for (Object o : new JsonObject(r.body()).getJsonArray("channels")) {
      if (merchant.equals(((JsonObject) o).getString("merchantId"))) {
        return (JsonObject) o;
      }
    }
    throw new AssertionError("no channel of " + merchant + " in " + r.body());
  }

  List<Long> seqs(List<JsonObject> events) {
    return events.stream().map(e -> e.getLong("seq")).toList();
  }

  /** Each event's prevSeq is the seq of the one before it; the first one's is {@code first}. */
  static void assertChained(String what, List<JsonObject> events, long first) {
    long prev = first;
    for (JsonObject e : events) {
      assertThat(e.getLong("prevSeq"))
          .as(what + ": prevSeq of " + e.getLong("seq"))
          .isEqualTo(prev);
      prev = e.getLong("seq");
    }
  }

  void untilCursorAtHead(TestApp app, String merchant) {
    fx.until(
        merchant + "'s cursor at its head",
        WAIT,
        () -> fx.cursor(app, merchant) == fx.head(merchant),
        () -> "cursor " + fx.cursor(app, merchant) + ", head " + fx.head(merchant));
    JsonObject ch = channel(app, merchant);
    assertThat(ch.getLong("lag")).as(ch.encode()).isZero();
    assertThat(ch.getLong("cursor")).isEqualTo(fx.head(merchant));
    HttpResponse<String> lag =
        gw.send(
            "GET",
            "/v1/lag?appId=" + app.id() + "&merchantId=" + merchant,
            TestGateway.ADMIN_TOKEN,
            null);
    assertThat(lag.statusCode()).as(lag.body()).isEqualTo(200);
    JsonArray items = new JsonObject(lag.body()).getJsonArray("items");
    assertThat(items.isEmpty() || items.getJsonObject(0).getLong("lag") == 0)
        .as(lag.body())
        .isTrue();
    fx.until(
        merchant + "'s checkpoint at its head",
        WAIT,
        () -> fx.checkpoint(app, merchant) == fx.head(merchant),
        () -> "checkpoint " + fx.checkpoint(app, merchant));
  }

  @Test
  void shouldPushOnlySubscribedTypesOnWebSocketAndMoveCursorsPastTheOthers() {
    TestApp app = fx.app("websocket");
    String mixed = fx.merchants("subs-ws", 1).get(0);
    String none = fx.merchants("subs-ws-none", 1).get(0);
    subscribe(app, mixed, SUBSCRIBED);
    subscribe(app, none, SUBSCRIBED);
    // the newest events of both are left out: the engine, not an ack, moves the cursors there
    String[] types = {
      "order.created", "order.paid", "order.shipped", "order.refund.partial",
      "order.created", "order.paid", "order.shipped", "order.shipped"
    };
    List<Long> seqs = ingest(mixed, types);
    ingest(none, "order.created", "order.shipped", "order.created");
    List<Long> want = includedSeqs(seqs, types);

    StreamClient consumer = fx.connect(app, gw.port, record, m -> {});
    consumer.autoAck = true;
    fx.until(
        "the subscribed events of " + mixed,
        WAIT,
        () -> got.getOrDefault(mixed, List.of()).size() >= want.size(),
        () -> "got " + got);
    untilCursorAtHead(app, mixed);
    untilCursorAtHead(app, none);
    assertThat(seqs(got.get(mixed))).isEqualTo(want);
    assertThat(got).doesNotContainKey(none);
    assertChained(mixed, got.get(mixed), 0);

    // After a reconnect the chain goes on from the last event delivered, not from the cursor
    // (which the left-out newest events moved past it).
    consumer.close();
    StreamClient again = fx.connect(app, gw.port, record, m -> {});
    again.autoAck = true;
    fx.until("both merchants assigned again", WAIT, () -> again.assigned().size() == 2);
    String[] more = {"order.shipped", "order.refund", "order.created"};
    List<Long> moreSeqs = ingest(mixed, more);
    ingest(none, "order.paid");
    fx.until(
        "the next subscribed events",
        WAIT,
        () -> got.getOrDefault(mixed, List.of()).size() == want.size() + 1 && got.containsKey(none),
        () -> "got " + got);
    untilCursorAtHead(app, mixed);
    untilCursorAtHead(app, none);
    assertThat(seqs(got.get(mixed)).get(want.size())).isEqualTo(moreSeqs.get(1));
    assertChained(mixed, got.get(mixed), 0);
    assertChained(none, got.get(none), 0);
    for (List<JsonObject> events : got.values()) {
      assertThat(events).allSatisfy(e -> assertThat(included(e.getString("type"))).isTrue());
    }
    assertThat(again.errors).isEmpty();
    again.close();
  }

  @Test
  void shouldSendOnlySubscribedTypesToCallbacksAndMoveCursorsPastTheOthers() {
    List<JsonObject> posted = new CopyOnWriteArrayList<>();
    hooks =
        StreamFixture.join(
            fx.vertx
                .createHttpServer()
                .requestHandler(
                    req ->
                        req.body()
                            .onSuccess(
                                buf -> {
                                  buf.toJsonObject()
                                      .getJsonArray("events")
                                      .forEach(e -> posted.add((JsonObject) e));
                                  req.response().setStatusCode(204).end();
                                }))
                .listen(0, "127.0.0.1"));
    TestApp app = callbackApp("http://127.0.0.1:" + hooks.actualPort() + "/hooks");
    String merchant = fx.merchants("subs-cb", 1).get(0);
    subscribe(app, merchant, SUBSCRIBED);
    String[] types = {
      "order.paid",
      "order.created",
      "order.created",
      "order.refund",
      "order.shipped",
      "order.paid",
      "order.shipped"
    };
    List<Long> seqs = ingest(merchant, types);
    List<Long> want = includedSeqs(seqs, types);
    fx.until("the subscribed events posted", WAIT, () -> posted.size() >= want.size());
    untilCursorAtHead(app, merchant);
    assertThat(seqs(posted)).isEqualTo(want);
    assertChained(merchant, posted, 0);

    // a merchant whose events are all left out: nothing posted, the cursor at the head
    String none = fx.merchants("subs-cb-none", 1).get(0);
    subscribe(app, none, SUBSCRIBED);
    ingest(none, "order.created", "order.shipped");
    untilCursorAtHead(app, none);
    assertThat(seqs(posted)).isEqualTo(want);

    // the subscription changed on the live grant: the next batch follows it
    subscribe(app, merchant, List.of("order.created"));
    List<Long> next = ingest(merchant, "order.paid", "order.created", "order.refund");
    fx.until(
        "the created event",
        WAIT,
        () -> posted.size() == want.size() + 1,
        () -> "posted " + seqs(posted));
    untilCursorAtHead(app, merchant);
    assertThat(seqs(posted).get(want.size())).isEqualTo(next.get(1));
    assertChained(merchant, posted, 0);
  }

  TestApp callbackApp(String url) {
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject()
                .put("name", "subs-it")
                .put("delivery", new JsonObject().put("mode", "callback").put("url", url))
                .encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    UUID id = UUID.fromString(app.getString("appId"));
    fx.apps.add(id);
    return new TestApp(id, app.getString("token"));
  }

  List<JsonObject> replay(TestApp app, String merchant, String query, int status) {
    HttpResponse<String> r =
        gw.send("GET", "/v1/merchants/" + merchant + "/events" + query, app.token(), null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    List<JsonObject> out = new ArrayList<>();
    if (status == 200) {
      for (String line : r.body().split("\n")) {
        if (!line.isBlank()) {
          out.add(new JsonObject(line));
        }
      }
    }
    return out;
  }

  @Test
  void shouldReplayOnlySubscribedTypesWithPrevSeqAndNarrowThemByParameter() {
    TestApp app = fx.app("websocket");
    String merchant = fx.merchants("subs-replay", 1).get(0);
    subscribe(app, merchant, SUBSCRIBED);
    // more than a replay page, so the chain crosses pages and whole pages are left out
    String[] types = new String[2500];
    for (int i = 0; i < types.length; i++) {
      types[i] = i < 1200 ? "order.created" : i % 7 == 0 ? "order.paid" : "order.shipped";
    }
    types[2000] = "order.refund.full";
    types[2499] = "order.shipped";
    List<Long> seqs = new ArrayList<>();
    for (int from = 0; from < types.length; from += 500) {
      seqs.addAll(ingest(merchant, java.util.Arrays.copyOfRange(types, from, from + 500)));
    }
    List<Long> want = includedSeqs(seqs, types);

    List<JsonObject> all = replay(app, merchant, "", 200);
    assertThat(seqs(all)).isEqualTo(want);
    assertChained("replay", all, 0);
    assertThat(all).allSatisfy(e -> assertThat(included(e.getString("type"))).isTrue());

    // from the middle: the first prevSeq says no subscribed event lies after fromSeq - 1
    List<JsonObject> tail = replay(app, merchant, "?fromSeq=1300&limit=5", 200);
    List<Long> wantTail = want.stream().filter(s -> s >= 1300).limit(5).toList();
    assertThat(seqs(tail)).isEqualTo(wantTail);
    assertChained("replay from 1300", tail, 1299);

    // the parameter narrows the grant's types, never widens them
    List<JsonObject> refunds =
        replay(app, merchant, "?eventTypes=" + enc("order.refund*,order.created"), 200);
    assertThat(seqs(refunds)).containsExactly(seqs.get(2000));
    assertChained("refunds only", refunds, 0);
    replay(app, merchant, "?eventTypes=" + enc("order paid"), 400);
    replay(app, merchant, "?eventTypes=" + enc("a,,b"), 400);

    // without a subscription every event comes, each prevSeq seq - 1
    TestApp plain = fx.app("websocket");
    fx.grant(plain, merchant);
    List<JsonObject> every = replay(plain, merchant, "?fromSeq=10&limit=100", 200);
    assertThat(every).hasSize(100);
    assertThat(every)
        .allSatisfy(e -> assertThat(e.getLong("prevSeq")).isEqualTo(e.getLong("seq") - 1));
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  /**
   * The merchant granted to the app for order.paid only, and an auto-acking consumer it is assigned
   * to.
   */
  StreamClient consumerOfPaid(TestApp app, String merchant) {
    subscribe(app, merchant, List.of("order.paid"));
    StreamClient consumer = fx.connect(app, gw.port, record, m -> {});
    consumer.autoAck = true;
    fx.until("assigned", WAIT, () -> consumer.assigned().contains(merchant));
    return consumer;
  }

  @Test
  void shouldKeepASubscriptionChangeThatCommittedWhileAResyncReadTheGrantAsItWas()
      throws Exception {
    TestApp app = fx.app("websocket");
    String merchant = fx.merchants("subs-race", 1).get(0);
    StreamClient consumer = consumerOfPaid(app, merchant);
    // The grant's row held here: the change below comes in, then waits for it to commit. A
    // resync meanwhile reads the grant as it still is and is applied first; the change, applied
    // after it, must still count.
    SqlConnection holder = StreamFixture.join(gw.gateway.pool().getConnection());
    try {
      Transaction tx = StreamFixture.join(holder.begin());
      StreamFixture.join(
          holder
              .preparedQuery(
                  "SELECT 1 FROM grants WHERE app_id = $1 AND merchant_id = $2 FOR UPDATE")
              .execute(Tuple.of(app.id(), merchant)));
      CompletableFuture<HttpResponse<String>> change =
          CompletableFuture.supplyAsync(
              () ->
                  grant(
                      app,
                      merchant,
                      new JsonObject()
                          .put("start", "earliest")
                          .put("eventTypes", new JsonArray(List.of("order.created")))));
      fx.until("the change waiting for the grant's row", WAIT, () -> waitingForALock());
      StreamFixture.join(gw.gateway.delivery().streams().resync(app.id()));
      StreamFixture.join(tx.commit());
      assertThat(change.get(30, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
    } finally {
      StreamFixture.join(holder.close());
    }
    // at once, before the change's own control version makes the node resync again
    List<Long> seqs = ingest(merchant, "order.paid", "order.created");
    fx.until(
        "an event after the change",
        WAIT,
        () -> !got.getOrDefault(merchant, List.of()).isEmpty(),
        () -> "got " + got);
    untilCursorAtHead(app, merchant);
    assertThat(seqs(got.get(merchant))).as("the new subscription's").containsExactly(seqs.get(1));
  }

  /** Whether a backend of the test database waits for a lock. */
  static boolean waitingForALock() {
    return StreamFixture.join(
                gw.gateway
                    .pool()
                    .query(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            + " AND datname = current_database()")
                    .execute())
            .iterator()
            .next()
            .getLong(0)
        > 0;
  }

  @Test
  void shouldApplyAChangedSubscriptionOfALiveGrantToWhatComesNext() {
    TestApp app = fx.app("websocket");
    String merchant = fx.merchants("subs-live", 1).get(0);
    StreamClient consumer = consumerOfPaid(app, merchant);
    List<Long> first = ingest(merchant, "order.paid", "order.refund", "order.paid");
    fx.until("two paid", WAIT, () -> got.getOrDefault(merchant, List.of()).size() == 2);
    untilCursorAtHead(app, merchant);

    // the same grant again, another subscription: in force for what is ingested next
    subscribe(app, merchant, List.of("order.refund*"));
    List<Long> second = ingest(merchant, "order.paid", "order.refund", "order.paid");
    fx.until("the refund", WAIT, () -> got.get(merchant).size() == 3, () -> "got " + got);
    untilCursorAtHead(app, merchant);
    assertThat(seqs(got.get(merchant))).containsExactly(first.get(0), first.get(2), second.get(1));

    // no eventTypes on a grant made again: every type
    HttpResponse<String> r = grant(app, merchant, new JsonObject().put("start", "earliest"));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(new JsonObject(r.body()).getJsonArray("eventTypes")).isEmpty();
    List<Long> third = ingest(merchant, "order.created", "order.shipped");
    fx.until("every type again", WAIT, () -> got.get(merchant).size() == 5, () -> "got " + got);
    assertThat(seqs(got.get(merchant)).subList(3, 5)).isEqualTo(third);
    assertChained(merchant, got.get(merchant), 0);
    untilCursorAtHead(app, merchant);
    assertThat(consumer.errors).isEmpty();
    consumer.close();
  }

  @Test
  void shouldShowEventsRemovedByRetentionInPrevSeqAndPassOverWhatIsLeftOut() {
    TestApp app = fx.app("websocket");
    String lost = fx.merchants("subs-ret", 1).get(0);
    String quiet = fx.merchants("subs-ret-quiet", 1).get(0);
    subscribe(app, lost, SUBSCRIBED);
    subscribe(app, quiet, SUBSCRIBED);
    // one request each: one stored chunk each, the first of which retention then removes
    List<Long> gone = ingest(lost, "order.paid", "order.paid", "order.paid");
    List<Long> kept = ingest(lost, "order.created", "order.paid");
    ingest(quiet, "order.refund", "order.paid");
    ingest(quiet, "order.created", "order.shipped");
    for (String m : List.of(lost, quiet)) {
      StreamFixture.join(
          gw.gateway
              .pool()
              .preparedQuery("DELETE FROM event_chunks WHERE merchant_id = $1 AND first_seq = 1")
              .execute(io.vertx.sqlclient.Tuple.of(m)));
    }

    StreamClient consumer = fx.connect(app, gw.port, record, m -> {});
    consumer.autoAck = true;
    fx.until("the paid event kept", WAIT, () -> got.containsKey(lost), () -> "got " + got);
    untilCursorAtHead(app, lost);
    untilCursorAtHead(app, quiet);
    assertThat(seqs(got.get(lost))).containsExactly(kept.get(1));
    // the removed events were subscribed ones: prevSeq is past them, so an app sees the loss
    assertThat(got.get(lost).get(0).getLong("prevSeq")).isEqualTo(gone.get(2));
    assertThat(got).doesNotContainKey(quiet);
    consumer.close();
  }

  @Test
  void shouldRefuseBadEventTypesWithNothingWritten() {
    TestApp app = fx.app("websocket");
    String merchant = fx.merchants("subs-bad", 1).get(0);
    List<Object> bad =
        List.of(
            "order.paid",
            new JsonArray().add(1),
            new JsonArray().add("order paid"),
            new JsonArray().add(""),
            new JsonArray().add("order.*.x"),
            new JsonArray().add("x".repeat(65)),
            new JsonArray().addNull(),
            new JsonArray(new ArrayList<>(Collections.nCopies(33, "order.paid"))),
            new JsonObject());
    for (Object types : bad) {
      HttpResponse<String> r =
          grant(
              app,
              merchant,
              new JsonObject().put("scopes", new JsonArray().add("pii")).put("eventTypes", types));
      assertThat(r.statusCode()).as(types + ": " + r.body()).isEqualTo(400);
      JsonObject err = new JsonObject(r.body());
      assertThat(err.getString("error")).isEqualTo("invalid_request");
      assertThat(err.getJsonArray("details").getJsonObject(0).getString("field"))
          .isEqualTo("eventTypes");
    }
    assertThat(grants(app)).isEmpty();

    // a bad change of a grant that exists leaves it as it was
    subscribe(app, merchant, List.of("order.paid"));
    HttpResponse<String> r =
        grant(app, merchant, new JsonObject().put("eventTypes", new JsonArray().add("a b")));
    assertThat(r.statusCode()).isEqualTo(400);
    List<JsonObject> kept = grants(app);
    assertThat(kept).hasSize(1);
    assertThat(kept.get(0).getJsonArray("eventTypes").getList()).containsExactly("order.paid");
    assertThat(kept.get(0).getJsonArray("scopes")).isEmpty();

    // limits that hold: 32 patterns, 64 characters, repeats dropped
    List<String> many = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      many.add("t" + i + "x".repeat(60));
    }
    subscribe(app, merchant, many);
    r = grant(app, merchant, new JsonObject().put("eventTypes", new JsonArray().add("a").add("a")));
    assertThat(new JsonObject(r.body()).getJsonArray("eventTypes").getList()).containsExactly("a");
    assertThat(Set.copyOf(grants(app).get(0).getJsonArray("eventTypes").getList()))
        .containsExactly("a");
  }

  List<JsonObject> grants(TestApp app) {
    HttpResponse<String> r =
        gw.send("GET", "/v1/apps/" + app.id() + "/grants", TestGateway.ADMIN_TOKEN, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    List<JsonObject> out = new ArrayList<>();
    new JsonObject(r.body()).getJsonArray("grants").forEach(o -> out.add((JsonObject) o));
    return out;
  }
}
