package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A revoke applied while a resync reads the app's grants is not undone by what the resync read
 * before it: the revoked channel stays gone instead of being assigned again until the next resync.
 */
class GrantRaceIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final int BULK = 3000;
  static TestGateway gw;
  static StreamFixture fx;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of());
    fx = new StreamFixture(gw);
  }

  @AfterAll
  static void stop() {
    fx.close();
    gw.close();
  }

  @Test
  void shouldNotAssignAgainAChannelRevokedWhileAResyncReadTheGrantsBeforeTheRevoke()
      throws Exception {
    var app = fx.app("websocket");
    // Grants enough that a resync reads several pages: the revoke lands between the first page,
    // which names the merchant, and the end of the read.
    gw.sql(
        "INSERT INTO grants (app_id, merchant_id, start_seq) SELECT '"
            + app.id()
            + "', 'zz-bulk-' || lpad(i::text, 5, '0'), 0 FROM generate_series(1, "
            + BULK
            + ") i");
    StreamClient c = fx.connect(app);
    fx.until("the bulk assigned", WAIT, () -> c.assigned().size() >= BULK);
    String superseded = "gateway_delivery_grant_reads_superseded_total";
    for (int attempt = 0; attempt < 10; attempt++) {
      String m = TestServices.uniqueMerchant("a-race");
      fx.grant(app, m);
      fx.until("assigned", WAIT, () -> c.assigned().contains(m));
      int from = c.messages.size();
      double before = Scrape.value(gw, superseded);
      var resync = gw.gateway.delivery().streams().resync(app.id());
      fx.revoke(app, m);
      resync.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      // a barrier: anything the resync sent this connection comes before this merchant's assigned
      String barrier = TestServices.uniqueMerchant("a-barrier");
      fx.grant(app, barrier);
      fx.until("the barrier assigned", WAIT, () -> c.assigned().contains(barrier));
      List<JsonObject> after = c.messages.subList(from, c.messages.size());
      int unassigned = indexOf(after, "unassigned", m);
      assertThat(unassigned).as("unassigned after the revoke").isGreaterThanOrEqualTo(0);
      assertThat(indexOf(after.subList(unassigned, after.size()), "assigned", m))
          .as("assigned again after its revoke (attempt " + attempt + ")")
          .isEqualTo(-1);
      if (Scrape.value(gw, superseded) > before) {
        return; // the resync had read the grant before the revoke, and left it revoked
      }
    }
    throw new AssertionError("the revoke never landed while a resync was reading");
  }

  @Test
  void shouldNotAddAgainACallbackChannelRevokedWhileAResyncReadTheGrantsBeforeTheRevoke()
      throws Exception {
    var app = fx.app("callback");
    gw.sql(
        "INSERT INTO grants (app_id, merchant_id, start_seq) SELECT '"
            + app.id()
            + "', 'zz-cbulk-' || lpad(i::text, 5, '0'), 0 FROM generate_series(1, "
            + BULK
            + ") i");
    var callbacks = gw.gateway.delivery().callbacks();
    fx.until("the bulk loaded", WAIT, () -> channels(app) == BULK);
    String superseded = "gateway_delivery_grant_reads_superseded_total";
    for (int attempt = 0; attempt < 10; attempt++) {
      String m = TestServices.uniqueMerchant("a-crace");
      fx.grant(app, m);
      fx.until("the channel added", WAIT, () -> channels(app) == BULK + 1);
      double before = Scrape.value(gw, superseded);
      var resync = callbacks.resync(app.id());
      fx.revoke(app, m); // answered once this node has dropped the channel
      resync.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertThat(channels(app))
          .as(
              "channels after the resync that read the grant before its revoke (attempt "
                  + attempt
                  + ")")
          .isEqualTo(BULK);
      if (Scrape.value(gw, superseded) > before) {
        return; // the resync had read the grant before the revoke, and left it revoked
      }
    }
    throw new AssertionError("the revoke never landed while a resync was reading");
  }

  static int channels(StreamFixture.TestApp app) {
    try {
      return gw.gateway
          .delivery()
          .callbacks()
          .view(app.id())
          .toCompletionStage()
          .toCompletableFuture()
          .get(30, TimeUnit.SECONDS)
          .channels();
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  /** The index of the first message of {@code type} naming {@code merchant}, or -1. */
  static int indexOf(List<JsonObject> messages, String type, String merchant) {
    for (int i = 0; i < messages.size(); i++) {
      JsonObject msg = messages.get(i);
      if (type.equals(msg.getString("type"))
          && msg.getJsonArray("merchants").getList().contains(merchant)) {
        return i;
      }
    }
    return -1;
  }
}
