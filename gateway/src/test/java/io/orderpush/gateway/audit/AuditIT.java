package io.orderpush.gateway.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.audit.AuditClients.Batch;
import io.orderpush.gateway.audit.AuditClients.Consumer;
import io.orderpush.gateway.audit.AuditClients.Endpoint;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The audit trail (issue 11, point 4): every batch that leaves the gateway over WebSocket, callback
 * or replay is recorded once, and {@code GET /v1/audit/deliveries} answers who got what, over which
 * connection, endpoint or replay, by merchant, order, app and time, paged.
 */
class AuditIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;
  static final Vertx vertx = Vertx.vertx();
  final List<UUID> apps = new ArrayList<>();
  final List<AutoCloseable> closing = new ArrayList<>();

  record App(UUID id, String token) {}

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_AUDIT_FLUSH_INTERVAL_MS", "50",
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "50",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "200"));
  }

  @AfterAll
  static void stop() {
    gw.close();
    AuditClients.join(vertx.close());
  }

  @AfterEach
  void cleanUp() throws Exception {
    NoStuckChannels.check(gw);
    for (AutoCloseable c : closing) {
      c.close();
    }
    for (UUID id : apps) {
      deleteAppRow(id);
    }
  }

  // ------------------------------------------------------------------ WebSocket

  @Test
  void shouldRecordEachWebSocketBatchOfTheAppThatReceivedItAndNothingForOthers() {
    String m = TestServices.uniqueMerchant("audit-ws");
    String other = TestServices.uniqueMerchant("audit-ws-other");
    App receiver = app("websocket", null);
    App elsewhere = app("websocket", null);
    App silent = app("websocket", null);
    grant(receiver, m);
    grant(elsewhere, other);
    grant(silent, m); // never connects: receives nothing
    Consumer a = consumer(receiver);
    Consumer b = consumer(elsewhere);
    for (int i = 0; i < 3; i++) {
      ingest(m, 10, "ws" + i);
    }
    ingest(other, 5, "wso");
    Await.until("30 events at the consumer", WAIT, () -> a.received(m) == 30);
    Await.until("5 events at the other consumer", WAIT, () -> b.received(other) == 5);

    List<JsonObject> items =
        awaitItems("merchantId=" + m, got -> covered(got) == 30, "seqs 1-30 recorded");
    List<Batch> sent = a.batches.stream().filter(x -> x.merchantId().equals(m)).toList();
    assertThat(items).extracting(AuditIT::batch).containsExactlyElementsOf(sent);
    assertThat(items)
        .allSatisfy(
            it -> {
              assertThat(it.getString("appId")).isEqualTo(receiver.id().toString());
              assertThat(it.getString("transport")).isEqualTo("websocket");
              assertThat(it.getString("via")).isEqualTo(a.connectionId.get());
              assertThat(it.getBoolean("masked")).as("granted without pii").isTrue();
              assertThat(Instant.parse(it.getString("deliveredAt")))
                  .isBetween(Instant.now().minusSeconds(60), Instant.now());
              assertThat(it.containsKey("outcome")).isFalse();
            });
    assertThat(audit("appId=" + silent.id()).getJsonArray("items")).isEmpty();
    assertThat(audit("appId=" + elsewhere.id() + "&merchantId=" + m).getJsonArray("items"))
        .isEmpty();
    // The other merchant's records may come in a later flush of the writer.
    assertThat(
            awaitItems(
                "merchantId=" + other, got -> covered(got) == 5, "the other merchant's seqs 1-5"))
        .extracting(it -> it.getString("appId"))
        .containsOnly(elsewhere.id().toString());
  }

  // ------------------------------------------------------------------ callbacks

  @Test
  void shouldRecordEveryCallbackAttemptWithItsOutcome() {
    String m = TestServices.uniqueMerchant("audit-cb");
    ingest(m, 5, "cb");
    // first attempt: the connection is closed unanswered; second: 500; third: 204
    Endpoint endpoint = new Endpoint(vertx, attempt -> attempt == 1 ? 0 : attempt == 2 ? 500 : 204);
    closing.add(endpoint);
    App app = app("callback", endpoint.url());
    grant(app, m, "pii");

    List<JsonObject> items =
        awaitItems("merchantId=" + m, got -> got.size() >= 3, "three attempts recorded");
    assertThat(endpoint.answered).containsExactly(0, 500, 204);
    assertThat(items).hasSize(3);
    assertThat(items)
        .allSatisfy(
            it -> {
              assertThat(it.getString("appId")).isEqualTo(app.id().toString());
              assertThat(it.getString("transport")).isEqualTo("callback");
              assertThat(it.getString("via")).isEqualTo(endpoint.url());
              assertThat(batch(it)).isEqualTo(new Batch(m, 1, 5));
              assertThat(it.getBoolean("masked")).as("granted with pii").isFalse();
            });
    assertThat(items.get(0).getJsonObject("outcome").getString("error")).isNotBlank();
    assertThat(items.get(0).getJsonObject("outcome").containsKey("status")).isFalse();
    assertThat(items.get(1).getJsonObject("outcome").getInteger("status")).isEqualTo(500);
    assertThat(items.get(2).getJsonObject("outcome").getInteger("status")).isEqualTo(204);

    // The endpoint's delivery log: each attempt's webhook-id, latency and answer head.
    for (int i = 0; i < 3; i++) {
      JsonObject outcome = items.get(i).getJsonObject("outcome");
      assertThat(outcome.getString("webhookId")).isEqualTo(endpoint.webhookIds.get(i));
      assertThat(outcome.getInteger("latencyMs")).isBetween(0, 60_000);
    }
    assertThat(items.get(0).getJsonObject("outcome").getString("responseHead")).isNull();
    String head = items.get(1).getJsonObject("outcome").getString("responseHead");
    assertThat(head).startsWith("answer 500 xxx").hasSizeLessThanOrEqualTo(256);
    JsonObject failed = audit("appId=" + app.id() + "&transport=callback&status=5xx");
    assertThat(items(failed))
        .extracting(it -> it.getJsonObject("outcome").getInteger("status"))
        .containsExactly(500);
    assertThat(items(audit("appId=" + app.id() + "&transport=callback&status=none"))).hasSize(1);
    assertThat(items(audit("appId=" + app.id() + "&transport=websocket"))).isEmpty();
  }

  @Test
  void shouldRecordACallbackBatchAsItWasSentWhenTheGrantLosesPiiWhileItIsInFlight() {
    String m = TestServices.uniqueMerchant("audit-cb-pii");
    JsonObject withBuyer =
        Events.event(m, "e-pii")
            .put("data", new JsonObject().put("buyer", new JsonObject().put("name", "Zhang San")));
    HttpResponse<String> r = gw.ingest(Events.batch(List.of(withBuyer)));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    Endpoint endpoint = new Endpoint(vertx, attempt -> 204);
    endpoint.hold = io.vertx.core.Promise.promise();
    closing.add(endpoint);
    App app = app("callback", endpoint.url());
    grant(app, m, "pii");
    Await.until("the batch in flight", WAIT, () -> !endpoint.bodies.isEmpty());
    assertThat(endpoint.bodies.get(0)).as("sent whole, with pii").contains("Zhang San");

    grant(app, m); // the same grant, now without pii, while the POST waits for its answer
    endpoint.hold.complete();
    List<JsonObject> items =
        awaitItems("merchantId=" + m, got -> got.size() == 1, "the attempt recorded");
    assertThat(items.get(0).getBoolean("masked")).as("the batch it records left whole").isFalse();
  }

  // ------------------------------------------------------------------ replay, orders

  @Test
  void shouldRecordEachReplayResponseWithTheRangeItStreamed() {
    String m = TestServices.uniqueMerchant("audit-replay");
    ingest(m, 20, "rp");
    App app = app("websocket", null);
    grant(app, m);

    String requestId = replay(app, m, "fromSeq=3&toSeq=12", 10);
    String wholeRest = replay(app, m, "fromSeq=15", 6);

    List<JsonObject> items = awaitItems("merchantId=" + m, got -> got.size() == 2, "two replays");
    assertThat(items)
        .extracting(AuditIT::batch)
        .containsExactly(new Batch(m, 3, 12), new Batch(m, 15, 20));
    assertThat(items).extracting(it -> it.getString("via")).containsExactly(requestId, wholeRest);
    assertThat(items).extracting(it -> it.getString("transport")).containsOnly("replay");
    assertThat(items).extracting(it -> it.getString("appId")).containsOnly(app.id().toString());
    assertThat(items).extracting(it -> it.getBoolean("masked")).containsOnly(true);

    grant(app, m, "pii"); // the same grant, now with pii: the next replay leaves whole
    String whole = replay(app, m, "fromSeq=1&toSeq=2", 2);
    List<JsonObject> all =
        awaitItems("merchantId=" + m, got -> got.size() == 3, "a third replay, with pii");
    assertThat(all)
        .filteredOn(it -> it.getString("via").equals(whole))
        .extracting(it -> it.getBoolean("masked"))
        .containsExactly(false);
  }

  @Test
  void shouldFindOnlyTheBatchesThatHeldAnEventOfTheOrder() {
    String m = TestServices.uniqueMerchant("audit-order");
    String order = "o-" + UUID.randomUUID();
    List<JsonObject> events = new ArrayList<>();
    for (int seq = 1; seq <= 30; seq++) {
      JsonObject e = Events.event(m, "ord-" + seq + "-" + UUID.randomUUID());
      if (seq == 5 || seq == 25) {
        e.put("orderId", order); // the order's own events
      } else if (seq == 15) {
        // another order that mentions it in its data: not an event of the order
        e.getJsonObject("data").put("orderId", order);
      }
      events.add(e);
    }
    assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
    App app = app("websocket", null);
    grant(app, m);
    List<String> vias = new ArrayList<>();
    for (int from = 1; from <= 30; from += 10) {
      vias.add(replay(app, m, "fromSeq=" + from + "&toSeq=" + (from + 9), 10));
    }
    awaitItems("merchantId=" + m, got -> got.size() == 3, "three replays");

    List<JsonObject> ofOrder = items(audit("merchantId=" + m + "&orderId=" + enc(order)));
    assertThat(ofOrder)
        .extracting(AuditIT::batch)
        .containsExactly(new Batch(m, 1, 10), new Batch(m, 21, 30));
    assertThat(ofOrder)
        .extracting(it -> it.getString("via"))
        .containsExactly(vias.get(0), vias.get(2));
    assertThat(items(audit("merchantId=" + m + "&orderId=o-never-ingested"))).isEmpty();
    // the order's events were ingested after this: nothing of it can have been delivered before
    assertThat(
            items(audit("merchantId=" + m + "&orderId=" + enc(order) + "&to=2020-01-01T00:00:00Z")))
        .isEmpty();
    // another merchant's batches with the same seqs are not the order's
    assertThat(items(audit("merchantId=" + m + "-other&orderId=" + enc(order)))).isEmpty();
  }

  @Test
  void shouldFindAnOrderAtEveryMerchantTheAppIsGrantedWhenNoMerchantIsNamed() {
    String order = "o-" + UUID.randomUUID();
    List<String> ms = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      ms.add(TestServices.uniqueMerchant("audit-any-" + i));
    }
    // merchants 0, 1 and 3 each have an order of that id (at seqs 2, 1, 1); merchant 2 has not
    for (int i = 0; i < 4; i++) {
      List<JsonObject> events = new ArrayList<>();
      for (int seq = 1; seq <= 3; seq++) {
        JsonObject e = Events.event(ms.get(i), "any-" + seq + "-" + UUID.randomUUID());
        if ((i == 0 && seq == 2) || ((i == 1 || i == 3) && seq == 1)) {
          e.put("orderId", order);
        }
        events.add(e);
      }
      assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
    }
    App app = app("websocket", null);
    App other = app("websocket", null);
    for (int i = 0; i < 3; i++) {
      grant(app, ms.get(i));
      replay(app, ms.get(i), "fromSeq=1&toSeq=3", 3);
    }
    grant(other, ms.get(3));
    replay(other, ms.get(3), "fromSeq=1&toSeq=3", 3);
    awaitItems("appId=" + app.id(), got -> got.size() == 3, "three replays");
    awaitItems("appId=" + other.id(), got -> got.size() == 1, "the other app's replay");

    List<JsonObject> ofOrder = items(audit("appId=" + app.id() + "&orderId=" + enc(order)));
    assertThat(ofOrder)
        .extracting(AuditIT::batch)
        .containsExactlyInAnyOrder(new Batch(ms.get(0), 1, 3), new Batch(ms.get(1), 1, 3));
    assertThat(items(audit("appId=" + other.id() + "&orderId=" + enc(order))))
        .extracting(AuditIT::batch)
        .containsExactly(new Batch(ms.get(3), 1, 3));
    assertThat(items(audit("appId=" + app.id() + "&orderId=o-never-ingested"))).isEmpty();
    // an app that does not exist holds no grant
    assertThat(items(audit("appId=" + UUID.randomUUID() + "&orderId=" + enc(order)))).isEmpty();

    // an app granted more than 1,000 merchants must name one (grants written directly)
    App wide = app("websocket", null);
    var pg = TestServices.migratedPg();
    try (var c = java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        var st =
            c.prepareStatement(
                "INSERT INTO grants (app_id, merchant_id, start_seq)"
                    + " SELECT ?, ? || n, 0 FROM generate_series(1, 1001) AS n")) {
      st.setObject(1, wide.id());
      st.setString(2, TestServices.uniqueMerchant("audit-many") + "-");
      assertThat(st.executeUpdate()).isEqualTo(1001);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
    HttpResponse<String> many =
        get("appId=" + wide.id() + "&orderId=" + enc(order), TestGateway.ADMIN_TOKEN);
    assertThat(many.statusCode()).as(many.body()).isEqualTo(400);
    assertThat(new JsonObject(many.body()).getString("message")).contains("needs merchantId");
  }

  @Test
  void shouldRefuseAnOrderFoundInMoreChunksThanItReadsRatherThanAnswerPartly() {
    String m = TestServices.uniqueMerchant("audit-wide");
    String order = "o-" + UUID.randomUUID();
    // 1,001 stored chunks of one event each, every one of the order (written directly: 1,001
    // requests one at a time would take seconds)
    String line = Events.event(m, "wide").put("orderId", order).encode();
    var pg = TestServices.migratedPg();
    try (var c = java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        var st =
            c.prepareStatement(
                "INSERT INTO event_chunks (merchant_id, first_seq, last_seq, ingested_at, events)"
                    + " SELECT ?, n, n, now(), ? FROM generate_series(1, 1001) AS n")) {
      st.setString(1, m);
      st.setString(2, line);
      assertThat(st.executeUpdate()).isEqualTo(1001);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
    HttpResponse<String> r =
        get("merchantId=" + m + "&orderId=" + enc(order), TestGateway.ADMIN_TOKEN);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
    assertThat(new JsonObject(r.body()).getString("message")).contains("too many stored chunks");
    // narrowed to before it was ingested: nothing to read, an empty answer
    assertThat(
            items(audit("merchantId=" + m + "&orderId=" + enc(order) + "&to=2020-01-01T00:00:00Z")))
        .isEmpty();
    // one chunk fewer is read whole
    try (var c = java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        var st =
            c.prepareStatement(
                "DELETE FROM event_chunks WHERE merchant_id = ? AND first_seq = 1001")) {
      st.setString(1, m);
      assertThat(st.executeUpdate()).isEqualTo(1);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
    assertThat(
            get("merchantId=" + m + "&orderId=" + enc(order), TestGateway.ADMIN_TOKEN).statusCode())
        .isEqualTo(200);
  }

  @Test
  void shouldNotNameForAnOrderTheBatchesThatPassedItsEventsOverByType() {
    String m = TestServices.uniqueMerchant("audit-types");
    String refunded = "o-refunded-" + UUID.randomUUID(); // seq 3, a type the apps pass over
    String paid = "o-paid-" + UUID.randomUUID(); // seq 4, delivered
    List<JsonObject> events = new ArrayList<>();
    for (int seq = 1; seq <= 6; seq++) {
      JsonObject e = Events.event(m, "types-" + seq + "-" + UUID.randomUUID());
      e.put("type", seq == 3 || seq == 5 ? "order.refunded" : "order.paid");
      if (seq == 3) {
        e.put("orderId", refunded);
      } else if (seq == 4) {
        e.put("orderId", paid);
      }
      events.add(e);
    }
    assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);

    // A WebSocket app subscribed to order.paid only: one batch, 1-6, holding 1, 2, 4 and 6.
    App subscriber = app("websocket", null);
    grant(subscriber, m, new JsonObject().put("eventTypes", new JsonArray(List.of("order.paid"))));
    Consumer c = consumer(subscriber);
    Await.until("the subscribed events", WAIT, () -> c.received(m) == 6);
    assertThat(c.batches).containsExactly(new Batch(m, 1, 6));
    // A callback app subscribed to order.paid: one POST, answered 204.
    Endpoint endpoint = new Endpoint(vertx, attempt -> 204);
    closing.add(endpoint);
    App hooked = app("callback", endpoint.url());
    grant(hooked, m, new JsonObject().put("eventTypes", new JsonArray(List.of("order.paid"))));
    // Another app replays 1-6 asking for order.paid only: the same events.
    App replayer = app("websocket", null);
    grant(replayer, m);
    String via = replay(replayer, m, "fromSeq=1&toSeq=6&eventTypes=order.paid", 4);
    awaitItems("merchantId=" + m, got -> got.size() == 3, "the message, the POST and the replay");
    assertThat(endpoint.answered).containsExactly(204);

    assertThat(items(audit("merchantId=" + m + "&orderId=" + enc(refunded))))
        .as("no batch held the refund")
        .isEmpty();
    List<JsonObject> ofPaid = items(audit("merchantId=" + m + "&orderId=" + enc(paid)));
    assertThat(ofPaid).extracting(AuditIT::batch).containsOnly(new Batch(m, 1, 6));
    assertThat(ofPaid)
        .extracting(it -> it.getString("via"))
        .containsExactlyInAnyOrder(c.connectionId.get(), endpoint.url(), via);
  }

  // ------------------------------------------------------------------ query

  @Test
  void shouldPageWithAfterUntilNextIsNull() {
    String m = TestServices.uniqueMerchant("audit-page");
    ingest(m, 7, "pg");
    App app = app("websocket", null);
    grant(app, m);
    for (int seq = 1; seq <= 7; seq++) {
      replay(app, m, "fromSeq=" + seq + "&toSeq=" + seq, 1);
    }
    List<JsonObject> all = awaitItems("merchantId=" + m, got -> got.size() == 7, "seven replays");
    assertThat(all)
        .extracting(it -> it.getLong("fromSeq"))
        .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L);

    List<JsonObject> paged = new ArrayList<>();
    List<Integer> sizes = new ArrayList<>();
    String next = null;
    do {
      JsonObject page =
          audit("appId=" + app.id() + "&limit=3" + (next == null ? "" : "&after=" + enc(next)));
      sizes.add(page.getJsonArray("items").size());
      paged.addAll(items(page));
      next = page.getString("next");
    } while (next != null && sizes.size() < 10);
    assertThat(sizes).containsExactly(3, 3, 1);
    assertThat(paged).isEqualTo(all);

    // a time range: from is inclusive, to exclusive
    Instant fourth = Instant.parse(all.get(3).getString("deliveredAt"));
    List<JsonObject> fromFourth = items(audit("merchantId=" + m + "&from=" + fourth));
    List<JsonObject> beforeFourth = items(audit("merchantId=" + m + "&to=" + fourth));
    assertThat(fromFourth).contains(all.get(3)).doesNotContainAnyElementsOf(beforeFourth);
    assertThat(fromFourth)
        .allSatisfy(
            it -> assertThat(Instant.parse(it.getString("deliveredAt"))).isAfterOrEqualTo(fourth));
    assertThat(beforeFourth)
        .allSatisfy(it -> assertThat(Instant.parse(it.getString("deliveredAt"))).isBefore(fourth));
    assertThat(fromFourth.size() + beforeFourth.size()).isEqualTo(7);
  }

  @Test
  void shouldAnswer400ForMissingOrInvalidParameters() {
    String m = "m-1";
    for (String query :
        List.of(
            "",
            "orderId=o-1",
            "appId=not-a-uuid",
            "merchantId=" + enc("bad merchant/"),
            "merchantId=" + m + "&from=yesterday",
            "merchantId=" + m + "&to=2026-13-01T00:00:00Z",
            "merchantId=" + m + "&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
            "merchantId=" + m + "&limit=0",
            "merchantId=" + m + "&limit=1001",
            "merchantId=" + m + "&limit=ten",
            "merchantId=" + m + "&after=not-a-cursor",
            // Times PostgreSQL cannot hold, in the query or in a forged cursor, are bad input too.
            "merchantId=" + m + "&from=-5000-01-01T00:00:00Z",
            "merchantId=" + m + "&to=%2B1000000000-01-01T00:00:00Z",
            "merchantId=" + m + "&to=%2B10000-01-01T00:00:00Z",
            "merchantId=" + m + "&after=" + forgedCursor("-9223372036854775808.1.1"),
            "merchantId=" + m + "&after=" + forgedCursor("1764547200000000.-1.1"),
            "merchantId=" + m + "&after=" + forgedCursor("1764547200000000.1.-1"),
            "merchantId=" + m + "&transport=carrier-pigeon",
            "merchantId=" + m + "&status=200",
            "merchantId=" + m + "&status=6xx",
            "merchantId=" + m + "&orderId=" + "o".repeat(129))) {
      HttpResponse<String> r = get(query, TestGateway.ADMIN_TOKEN);
      assertThat(r.statusCode()).as(query + " -> " + r.body()).isEqualTo(400);
      assertThat(new JsonObject(r.body()).getString("error"))
          .as(query)
          .isEqualTo("invalid_request");
    }
    assertThat(get("merchantId=" + m, null).statusCode()).isEqualTo(401);
    assertThat(get("merchantId=" + m, TestGateway.INGEST_TOKEN).statusCode()).isEqualTo(401);
    assertThat(get("merchantId=" + m + "&limit=1000", TestGateway.ADMIN_TOKEN).statusCode())
        .isEqualTo(200);
    // the bounds themselves are taken
    String widest = "&from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59.999999Z";
    assertThat(get("merchantId=" + m + widest, TestGateway.ADMIN_TOKEN).statusCode())
        .isEqualTo(200);
  }

  private static String forgedCursor(String plain) {
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(plain.getBytes(StandardCharsets.US_ASCII));
  }

  // ------------------------------------------------------------------ lifetime

  @Test
  void shouldKeepTheRecordsOfADeletedApp() {
    String m = TestServices.uniqueMerchant("audit-deleted");
    ingest(m, 3, "del");
    App app = app("websocket", null);
    grant(app, m);
    String via = replay(app, m, "fromSeq=1", 3);
    awaitItems("appId=" + app.id(), got -> got.size() == 1, "the replay recorded");

    deleteAppRow(app.id());
    assertThat(gw.send("GET", "/v1/apps/" + app.id(), TestGateway.ADMIN_TOKEN, null).statusCode())
        .isEqualTo(404);
    List<JsonObject> kept = items(audit("appId=" + app.id()));
    assertThat(kept).extracting(it -> it.getString("via")).containsExactly(via);
    assertThat(items(audit("merchantId=" + m))).hasSize(1);
  }

  @Test
  void shouldDropAuditPartitionsPastAuditRetentionOnlyAndLeaveTheEventRetentionAlone() {
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    // audit.retention-days is 180 by default; events' retention.days 7
    LocalDate expired = today.minusDays(181);
    LocalDate kept = today.minusDays(179);
    LocalDate weekOld = today.minusDays(10);
    UUID app = UUID.randomUUID();
    String m = TestServices.uniqueMerchant("audit-retention");
    try {
      for (LocalDate day : List.of(expired, kept, weekOld)) {
        sql(
            "CREATE TABLE IF NOT EXISTS "
                + partition(day)
                + " PARTITION OF audit_batches FOR VALUES FROM ('"
                + day
                + " 00:00:00+00') TO ('"
                + day.plusDays(1)
                + " 00:00:00+00')");
        sql(
            "INSERT INTO audit_batches (delivered_at, app_id, merchant_id, sent_ms, from_seqs,"
                + " to_seqs, transport, via, masked) VALUES ('"
                + day
                + " 12:00:00+00', '"
                + app
                + "', '"
                + m
                + "', '{0}', '{1}', '{1}', 'replay', 'r', false)");
      }
      assertThat(items(audit("appId=" + app))).hasSize(3);

      List<String> dropped = AuditClients.join(gw.gateway.applyRetention());
      assertThat(dropped).noneMatch(p -> p.startsWith("audit_"));
      assertThat(items(audit("appId=" + app))).hasSize(3);

      dropped = AuditClients.join(gw.gateway.applyAuditRetention());
      assertThat(dropped).contains(partition(expired)).doesNotContain(partition(kept));
      assertThat(dropped).allMatch(p -> p.startsWith("audit_batches_"));
      assertThat(items(audit("appId=" + app)))
          .extracting(it -> Instant.parse(it.getString("deliveredAt")))
          .containsExactly(
              kept.atTime(12, 0).toInstant(ZoneOffset.UTC),
              weekOld.atTime(12, 0).toInstant(ZoneOffset.UTC));
    } finally {
      for (LocalDate day : List.of(expired, kept, weekOld)) {
        sql("DROP TABLE IF EXISTS " + partition(day));
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  static String partition(LocalDate day) {
    return "audit_batches_" + DateTimeFormatter.ofPattern("yyyyMMdd").format(day);
  }

  static Batch batch(JsonObject item) {
    return new Batch(item.getString("merchantId"), item.getLong("fromSeq"), item.getLong("toSeq"));
  }

  /** How many distinct seqs the items cover. */
  static long covered(List<JsonObject> items) {
    return items.stream()
        .flatMapToLong(
            it ->
                java.util.stream.LongStream.rangeClosed(it.getLong("fromSeq"), it.getLong("toSeq")))
        .distinct()
        .count();
  }

  App app(String mode, String url) {
    JsonObject delivery = new JsonObject().put("mode", mode);
    if (url != null) {
      delivery.put("url", url);
    }
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject().put("name", "audit-it").put("delivery", delivery).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject body = new JsonObject(r.body());
    UUID id = UUID.fromString(body.getString("appId"));
    apps.add(id);
    return new App(id, body.getString("token"));
  }

  void grant(App app, String merchant, String... scopes) {
    grant(app, merchant, new JsonObject().put("scopes", new JsonArray(List.of((Object[]) scopes))));
  }

  /** Grants from the earliest event, with {@code terms} (scopes, event types) as given. */
  void grant(App app, String merchant, JsonObject terms) {
    HttpResponse<String> r =
        gw.send(
            "PUT",
            "/v1/merchants/" + merchant + "/grants/" + app.id(),
            TestGateway.ADMIN_TOKEN,
            terms.copy().put("start", "earliest").encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  Consumer consumer(App app) {
    Consumer c = new Consumer(vertx, gw.port, app.token());
    closing.add(c);
    Await.until("hello", WAIT, () -> c.connectionId.get() != null);
    return c;
  }

  static void ingest(String merchant, int n, String prefix) {
    HttpResponse<String> r =
        gw.ingest(
            Events.batch(
                IntStream.range(0, n)
                    .mapToObj(
                        i -> Events.event(merchant, prefix + "-" + i + "-" + UUID.randomUUID()))
                    .toList()));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  /** Replays and reads the whole response; returns its request id. */
  static String replay(App app, String merchant, String query, int expectedEvents) {
    HttpResponse<String> r =
        gw.send("GET", "/v1/merchants/" + merchant + "/events?" + query, app.token(), null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(r.body().lines().count()).isEqualTo(expectedEvents);
    return r.headers().firstValue("X-Request-Id").orElseThrow();
  }

  static HttpResponse<String> get(String query, String token) {
    return gw.send("GET", "/v1/audit/deliveries?" + query, token, null);
  }

  static JsonObject audit(String query) {
    HttpResponse<String> r = get(query, TestGateway.ADMIN_TOKEN);
    assertThat(r.statusCode()).as(query + " -> " + r.body()).isEqualTo(200);
    return new JsonObject(r.body());
  }

  static List<JsonObject> items(JsonObject page) {
    JsonArray a = page.getJsonArray("items");
    List<JsonObject> out = new ArrayList<>();
    for (int i = 0; i < a.size(); i++) {
      out.add(a.getJsonObject(i));
    }
    return out;
  }

  /**
   * Polls the query (records are written in groups, a moment after the batch) until {@code done}.
   */
  static List<JsonObject> awaitItems(String query, Predicate<List<JsonObject>> done, String what) {
    List<List<JsonObject>> last = new ArrayList<>(List.of(List.of()));
    Await.until(
        what,
        WAIT,
        () -> {
          JsonObject page = audit(query + "&limit=1000");
          assertThat(page.getString("next")).isNull();
          last.set(0, items(page));
          return done.test(last.get(0));
        },
        () -> "last answer: " + last.get(0));
    return last.get(0);
  }

  static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }

  static void sql(String statement) {
    AuditClients.join(gw.gateway.pool().query(statement).execute());
  }

  static void deleteAppRow(UUID id) {
    AuditClients.join(
        gw.gateway
            .pool()
            .preparedQuery("DELETE FROM apps WHERE app_id = $1")
            .execute(Tuple.of(id)));
  }
}
