package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Events;
import io.orderpush.gateway.GatewayProcess;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A subscription changed through one node reaches the deliveries of another: through the change
 * notice, and, for a node that hears no notices, through the reconcile of control versions.
 */
class SubscriptionClusterIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final Map<String, String> ENV =
      Map.of(
          "GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "60000",
          "GATEWAY_DELIVERY_RECONCILE_INTERVAL_MS", "200");
  static TestGateway a;
  static StreamFixture fx;

  @BeforeAll
  static void start() {
    a = TestGateway.start(ENV);
    fx = new StreamFixture(a);
  }

  @AfterAll
  static void stop() {
    fx.close();
    a.close();
  }

  static void subscribe(StreamFixture.TestApp app, String merchant, String... types) {
    HttpResponse<String> r =
        a.send(
            "PUT",
            "/v1/merchants/" + merchant + "/grants/" + app.id(),
            TestGateway.ADMIN_TOKEN,
            new JsonObject().put("eventTypes", new JsonArray(List.of(types))).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  static long ingest(String merchant, String type) {
    HttpResponse<String> r =
        a.ingest(
            Events.batch(
                List.of(Events.event(merchant, UUID.randomUUID().toString()).put("type", type))));
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return new JsonArray(r.body()).getJsonObject(0).getLong("seq");
  }

  @Test
  void shouldFollowASubscriptionChangedOnAnotherNodeByNotice() throws Exception {
    GatewayProcess b =
        GatewayProcess.start(TestGateway.freePort(), "subscription-cluster-b.log", ENV);
    try {
      follow(b);
    } finally {
      b.terminate(Duration.ofSeconds(30));
    }
  }

  @Test
  void shouldFollowASubscriptionChangeWhoseNoticeWasLostByTheReconcile() throws Exception {
    Map<String, String> deaf = new HashMap<>(ENV);
    // Listens on another channel: hears none of A's notices, as if every one were lost.
    deaf.put("GATEWAY_CONTROL_CHANNEL", "gw:control:elsewhere:" + TestServices.TEST_DATABASE);
    deaf.put("GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "500");
    GatewayProcess c =
        GatewayProcess.start(TestGateway.freePort(), "subscription-cluster-c.log", deaf);
    try {
      follow(c);
    } finally {
      c.terminate(Duration.ofSeconds(30));
    }
  }

  /**
   * A consumer on {@code node} subscribed to order.paid; the grant changed through A to
   * order.created: created events ingested after the change arrive (within the wait, probed one at
   * a time), and from the first one on, no paid event comes any more.
   */
  private void follow(GatewayProcess node) {
    var app = fx.app("websocket");
    String m = TestServices.uniqueMerchant("subs-cluster");
    subscribe(app, m, "order.paid");
    List<JsonObject> got = new CopyOnWriteArrayList<>();
    StreamClient c =
        fx.connect(
            app,
            node.port,
            (merchant, events) -> events.forEach(e -> got.add((JsonObject) e)),
            x -> {});
    c.autoAck = true;
    fx.until("assigned on the other node", WAIT, () -> c.assigned().contains(m));
    long created = ingest(m, "order.created");
    long paid = ingest(m, "order.paid");
    fx.until("the paid event", WAIT, () -> !got.isEmpty());
    assertThat(got).extracting(e -> e.getLong("seq")).containsExactly(paid);

    subscribe(app, m, "order.created");
    List<Long> probes = new ArrayList<>(); // when each probe was ingested
    fx.until(
        "a created event, once the other node follows the change",
        WAIT,
        () -> {
          if (got.stream().anyMatch(e -> "order.created".equals(e.getString("type")))) {
            return true;
          }
          long now = System.currentTimeMillis();
          if (probes.isEmpty() || now - probes.get(probes.size() - 1) >= 200) {
            ingest(m, "order.created"); // one probe each 200 ms
            probes.add(now);
          }
          return false;
        },
        () -> "got " + got);
    long paidAfter = ingest(m, "order.paid");
    long marker = ingest(m, "order.created");
    fx.until("the marker", WAIT, () -> got.stream().anyMatch(e -> e.getLong("seq") == marker));
    assertThat(got).extracting(e -> e.getLong("seq")).doesNotContain(created, paidAfter);
    // every delivered event's prevSeq is the one delivered before it
    long prev = 0;
    for (JsonObject e : got) {
      assertThat(e.getLong("prevSeq")).as("prevSeq of " + e.getLong("seq")).isEqualTo(prev);
      prev = e.getLong("seq");
    }
    fx.until("the cursor at the head", WAIT, () -> fx.cursor(app, m) == fx.head(m));
    c.close();
  }
}
