package io.orderpush.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A deleted app's cursor hashes leave Redis even when the node that deleted it stops right after:
 * the delete leaves a row in {@code app_sweeps}, and the chore on another node sweeps once every
 * node has surely stopped delivering the app.
 */
class AppSweepIT {

  static final Duration WAIT = Duration.ofSeconds(60);

  @Test
  void shouldSweepAnAppDeletedOnANodeThatStoppedRightAfterFromAnotherNode() throws Exception {
    PgSettings pg = TestServices.migratedPg();
    UUID appId;
    // A's reconcile interval puts its own chore's second sweep minutes away: it stops first.
    try (TestGateway a =
        TestGateway.start(Map.of("GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "60000"))) {
      HttpResponse<String> created =
          a.send(
              "POST",
              "/v1/apps",
              TestGateway.ADMIN_TOKEN,
              new JsonObject()
                  .put("name", "swept")
                  .put("delivery", new JsonObject().put("mode", "websocket"))
                  .encode());
      assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
      appId = UUID.fromString(new JsonObject(created.body()).getString("appId"));
      HttpResponse<String> deleted =
          a.send("DELETE", "/v1/apps/" + appId, TestGateway.ADMIN_TOKEN, null);
      assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(204);
    }
    assertThat(sweepRows(pg, appId)).as("the sweep still to do").isEqualTo(1);
    // What a node that had not heard of the delete yet wrote after A's first sweep.
    String late = "gw:ch:{" + appId + ":late}";
    try (var client = io.lettuce.core.RedisClient.create(TestServices.redisUrl());
        var redis = client.connect()) {
      redis.sync().hset(late, "cursor", "7");
      // ... and a connection such a node registered in the app's consumer group
      String group = "gw:grp:" + TestGateway.CLUSTER + ":{" + appId + "}";
      redis.sync().hset(group, "conn-late", "b-gone/1/1");
      try (TestGateway b = TestGateway.start(Map.of())) {
        Await.until("the late hash swept by B's chore", WAIT, () -> redis.sync().exists(late) == 0);
        Await.until("the sweep's row gone", WAIT, () -> sweepRows(pg, appId) == 0);
        assertThat(redis.sync().exists(group)).as("the group's registry").isZero();
        Await.until(
            "no sweep pending (B's gauge)",
            WAIT,
            () ->
                b.send("GET", "/metrics", null, null)
                    .body()
                    .lines()
                    .anyMatch(l -> l.equals("gateway_app_sweeps_pending 0.0")));
      }
    }
  }

  static long sweepRows(PgSettings pg, UUID appId) {
    try (var c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        var s = c.prepareStatement("SELECT count(*) FROM app_sweeps WHERE app_id = ?")) {
      s.setObject(1, appId);
      try (var rs = s.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}
