package io.orderpush.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Scrape;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.testing.TcpProxy;
import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.testing.TestServices;
import java.net.http.HttpResponse;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * A deleted app's cursor hashes leave Redis even when the node that deleted it stops right after:
 * the delete leaves a row in {@code app_sweeps}, and the chore on another node sweeps once every
 * node has surely stopped delivering the app. A revoked grant's channel gets its expiry the same
 * way when the node that revoked could not set it.
 */
class AppSweepIT {

  static final Duration WAIT = Duration.ofSeconds(60);

  /**
   * B's settings: its settle time (three control reconcile intervals, the query timeout and a
   * second; its chore's period too) 2.6 s instead of the default's 4.5 s.
   */
  static final Map<String, String> B =
      Map.of("GATEWAY_PG_QUERY_TIMEOUT_MS", "1000", "GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "200");

  @Test
  void shouldSweepAnAppDeletedOnANodeThatStoppedRightAfterFromAnotherNode() throws Exception {
    PgSettings pg = TestServices.migratedPg();
    UUID appId;
    // A's reconcile interval puts its own chore's second sweep minutes away: it stops first.
    try (TestGateway a =
        TestGateway.start(Map.of("GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "60000"))) {
      appId = UUID.fromString(TestApps.create(a, "swept", null).appId());
      HttpResponse<String> deleted =
          a.send("DELETE", "/v1/apps/" + appId, TestGateway.ADMIN_TOKEN, null);
      assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(204);
    }
    assertThat(rows(pg, "app_sweeps", appId)).as("the sweep still to do").isEqualTo(1);
    // What a node that had not heard of the delete yet wrote after A's first sweep.
    String late = "gw:ch:{" + appId + ":late}";
    try (var client = io.lettuce.core.RedisClient.create(TestServices.redisUrl());
        var redis = client.connect()) {
      redis.sync().hset(late, "cursor", "7");
      // ... and a connection such a node registered in the app's consumer group
      String group = "gw:grp:" + TestGateway.CLUSTER + ":{" + appId + "}";
      redis.sync().hset(group, "conn-late", "b-gone/1/1");
      // a short query timeout and reconcile interval keep B's settle time (and chore period) short
      try (TestGateway b = TestGateway.start(B)) {
        Await.until("the late hash swept by B's chore", WAIT, () -> redis.sync().exists(late) == 0);
        Await.until("the sweep's row gone", WAIT, () -> rows(pg, "app_sweeps", appId) == 0);
        assertThat(redis.sync().exists(group)).as("the group's registry").isZero();
        Await.until(
            "no sweep pending (B's gauge)",
            WAIT,
            () -> Scrape.value(b, "gateway_app_sweeps_pending") == 0);
      }
    }
  }

  @Test
  void shouldExpireARevokedChannelWhoseExpiryFailedFromAnotherNode() throws Exception {
    PgSettings pg = TestServices.migratedPg();
    String m = TestServices.uniqueMerchant("revoked-late");
    java.net.URI redisUri = java.net.URI.create(TestServices.redisUrl());
    try (var client = io.lettuce.core.RedisClient.create(TestServices.redisUrl());
        var redis = client.connect();
        TcpProxy proxy = TcpProxy.start(redisUri.getHost(), redisUri.getPort())) {
      UUID appId;
      String key;
      // A reaches Redis through the proxy; its own chore is minutes away
      try (TestGateway a =
          TestGateway.start(
              Map.of(
                  "GATEWAY_REDIS_URL", "redis://127.0.0.1:" + proxy.port(),
                  "GATEWAY_REDIS_COMMAND_TIMEOUT_MS", "2000",
                  "GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "60000"))) {
        appId = UUID.fromString(TestApps.create(a, "revoked", null).appId());
        HttpResponse<String> granted =
            a.send("PUT", "/v1/merchants/" + m + "/grants/" + appId, TestGateway.ADMIN_TOKEN, "{}");
        assertThat(granted.statusCode()).as(granted.body()).isEqualTo(200);
        // the channel's hash: a cursor the app set before any consumer came
        key = "gw:ch:{" + appId + ":" + m + "}";
        redis.sync().hset(key, "cursor", "7");

        proxy.blackhole();
        proxy.cut();
        HttpResponse<String> revoked =
            a.send(
                "DELETE", "/v1/merchants/" + m + "/grants/" + appId, TestGateway.ADMIN_TOKEN, null);
        assertThat(revoked.statusCode()).as(revoked.body()).isEqualTo(204);
        Await.until(
            "A's attempt to set the expiry failed",
            WAIT,
            () -> Scrape.value(a, "gateway_app_sweep_failures_total") >= 1);
        assertThat(rows(pg, "revoked_channels", appId)).as("the expiry still to set").isEqualTo(1);
        assertThat(redis.sync().pttl(key)).as("no expiry yet").isEqualTo(-1);
      }
      // a short query timeout and reconcile interval keep B's settle time (and chore period) short
      try (TestGateway b = TestGateway.start(B)) {
        Await.until("the expiry set by B's chore", WAIT, () -> redis.sync().pttl(key) > 0);
        // retention (7 days) and two: what is left of it
        long nineDays = Duration.ofDays(9).toMillis();
        assertThat(redis.sync().pttl(key)).isBetween(nineDays - 120_000, nineDays);
        Await.until("the row gone", WAIT, () -> rows(pg, "revoked_channels", appId) == 0);
        Await.until(
            "none pending (B's gauge)",
            WAIT,
            () -> Scrape.value(b, "gateway_revoked_channels_pending") == 0);
      } finally {
        redis.sync().del(key);
        TestApps.deleteRows(java.util.List.of(appId.toString()));
      }
    }
  }

  /** Rows of {@code table} (app_sweeps, revoked_channels) that name the app. */
  static long rows(PgSettings pg, String table, UUID appId) {
    try (var c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        var s = c.prepareStatement("SELECT count(*) FROM " + table + " WHERE app_id = ?")) {
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
