package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A caught-up channel whose merchant got an event the gateway was never told about (a commit whose
 * answer was lost, then answered as a duplicate; or another node's notice lost) is woken by the
 * reconcile of stored heads.
 */
class MissedWakeUpIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static TestGateway gw;
  final Vertx vertx = Vertx.vertx();
  String appId;
  String token;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                // rounds (and the grace each waits before it applies what it read) every 200 ms
                "GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "200",
                // fewer than the second test's merchants: its rounds must take them in turn
                "GATEWAY_DELIVERY_RECONCILE_BATCH", "2"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @AfterEach
  void cleanUp() {
    NoStuckChannels.check(gw);
    TestApps.deleteRows(gw, List.of(appId));
    vertx.close().toCompletionStage().toCompletableFuture().join();
  }

  @Test
  void shouldDeliverAnEventCommittedBehindTheGatewaysBackWithoutAnotherEvent() {
    CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
    String m = TestServices.uniqueMerchant("wake");
    TestApps.Created app = TestApps.create(gw, "wake", hooks.url());
    appId = app.appId();
    token = app.token();
    TestApps.grant(gw, m, appId, "{}");
    assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
        .isEqualTo(200);
    Await.until("seq 1 delivered", WAIT, () -> hooks.requests.size() == 1);
    // acked, so the channel is caught up and only a wake-up can make it read again
    Await.until("seq 1 acked", WAIT, () -> cursorOf(m) == 1);
    double wokenBefore = Scrape.value(gw, "gateway_delivery_reconcile_woken_total");

    // Committed through the log directly: nothing in the gateway hears of it, as when a commit's
    // answer is lost and the marketplace's retry is answered as a duplicate.
    Events.commitBehindTheGatewaysBack(gw, List.of(m), "e-2");
    HttpResponse<String> retry = gw.ingest(Events.batch(List.of(Events.event(m, "e-2"))));
    assertThat(new JsonObject("{\"r\":" + retry.body() + "}").encode())
        .contains("\"duplicate\":true");

    Await.until(
        "seq 2 delivered without a further event",
        WAIT,
        () -> hooks.requests.stream().anyMatch(q -> q.first() == 2),
        () -> "requests: " + hooks.requests.stream().map(q -> q.first() + "-" + q.last()).toList());
    assertThat(Scrape.value(gw, "gateway_delivery_reconcile_woken_total"))
        .isGreaterThan(wokenBefore);
  }

  @Test
  void shouldWakeEveryMerchantsChannelWhenTheyAreMoreThanOneReconcileRoundReads() {
    CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
    List<String> merchants =
        java.util.stream.IntStream.range(0, 7)
            .mapToObj(i -> TestServices.uniqueMerchant("sweep" + i))
            .toList();
    TestApps.Created app = TestApps.create(gw, "sweep", hooks.url());
    appId = app.appId();
    token = app.token();
    for (String m : merchants) {
      TestApps.grant(gw, m, appId, "{}");
      assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
          .isEqualTo(200);
    }
    Await.until("seq 1 of each delivered", WAIT, () -> merchantsSent(hooks, 1) == merchants.size());
    Await.until(
        "seq 1 of each acked", WAIT, () -> merchants.stream().allMatch(m -> cursorOf(m) == 1));
    double wokenBefore = Scrape.value(gw, "gateway_delivery_reconcile_woken_total");

    Events.commitBehindTheGatewaysBack(gw, merchants, "e-2");

    // A round reads 2 merchants' heads: only rounds that take the merchants in turn reach all 7.
    Await.until(
        "seq 2 of every merchant delivered without a further event",
        WAIT,
        () -> merchantsSent(hooks, 2) == merchants.size(),
        () -> "requests: " + hooks.requests.stream().map(q -> q.first() + "-" + q.last()).toList());
    assertThat(Scrape.value(gw, "gateway_delivery_reconcile_woken_total"))
        .isGreaterThanOrEqualTo(wokenBefore + merchants.size());
  }

  @Test
  void shouldGoOnPastEventsRetentionRemovedBeforeTheChannelGotToThem() {
    CallbackRecoveryIT.Hooks hooks = new CallbackRecoveryIT.Hooks(vertx);
    String gap = TestServices.uniqueMerchant("gap");
    String gone = TestServices.uniqueMerchant("gone");
    TestApps.Created app = TestApps.create(gw, "expired", hooks.url());
    appId = app.appId();
    token = app.token();
    for (String m : List.of(gap, gone)) {
      TestApps.grant(gw, m, appId, "{}");
      assertThat(gw.ingest(Events.batch(List.of(Events.event(m, "e-1")))).statusCode())
          .isEqualTo(200);
    }
    Await.until("seq 1 of both delivered", WAIT, () -> merchantsSent(hooks, 1) == 2);
    Await.until("seq 1 of both acked", WAIT, () -> cursorOf(gap) == 1 && cursorOf(gone) == 1);
    double expiredBefore = Scrape.value(gw, "gateway_delivery_expired_skipped_total");

    // Seqs 2-500 of both were committed and then removed by retention, with seq 1, before the
    // channels got to them (far more than one read's worth): the heads moved, no chunk holds them.
    Events.removeBehindTheGatewaysBack(gw, List.of(gap, gone), 500);
    // gap: seq 501 is stored; gone: nothing after the removed seqs.
    Events.commitBehindTheGatewaysBack(gw, List.of(gap), "e-501");

    Await.until(
        "seq 501 of " + gap + " delivered, its prevSeq showing the gap",
        WAIT,
        () ->
            hooks.requests.stream()
                .anyMatch(
                    q ->
                        q.merchantId().equals(gap)
                            && q.first() == 501
                            && q.body().contains("\"prevSeq\":500")),
        () -> "requests: " + hooks.requests.stream().map(q -> q.first() + "-" + q.last()).toList());
    // gone: the channel passes the head, so the next event it is told of is delivered at once.
    Await.until(
        "the channel of " + gone + " passed the removed seqs",
        WAIT,
        () -> cursorOf(gone) == 500,
        () -> "cursor " + cursorOf(gone));
    assertThat(gw.ingest(Events.batch(List.of(Events.event(gone, "e-501")))).statusCode())
        .isEqualTo(200);
    Await.until(
        "seq 501 of " + gone + " delivered",
        WAIT,
        () ->
            hooks.requests.stream().anyMatch(q -> q.merchantId().equals(gone) && q.first() == 501));
    // seqs 2-500 of both, counted as expired
    assertThat(Scrape.value(gw, "gateway_delivery_expired_skipped_total"))
        .isGreaterThanOrEqualTo(expiredBefore + 2 * 499);
  }

  /** The channel's stored cursor, as the app sees it ({@code GET /v1/channels}). */
  private long cursorOf(String merchant) {
    JsonObject page = new JsonObject(gw.send("GET", "/v1/channels?limit=500", token, null).body());
    return page.getJsonArray("channels").stream()
        .map(JsonObject.class::cast)
        .filter(c -> merchant.equals(c.getString("merchantId")))
        .mapToLong(c -> c.getLong("cursor"))
        .findFirst()
        .orElse(-1);
  }

  private static long merchantsSent(CallbackRecoveryIT.Hooks hooks, long seq) {
    return hooks.requests.stream()
        .filter(q -> q.first() == seq)
        .map(CallbackRecoveryIT.Hooks.Request::merchantId)
        .distinct()
        .count();
  }
}
