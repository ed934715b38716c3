package io.orderpush.gateway.drill;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.DeliveryMode;
import io.orderpush.persistence.apps.SecretCipher;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A drill whose node is gone is failed by another node's sweep, its sandbox grants revoked; no node
 * of the drill is left to give the sandbox channels their expiry in Redis, so the revoke leaves
 * them to the app-sweeps chore ({@code revoked_channels}), as a revoke whose expiry failed does.
 */
class DrillOrphansIT {

  final Vertx vertx = Vertx.vertx();
  final Pool pool = PgPools.create(vertx, TestServices.migratedPg(), "drill-orphans-it", 2, 16);
  final DrillStore store = new DrillStore(pool);

  @AfterEach
  void close() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void shouldLeaveTheSandboxChannelsOfAFailedOrphanToTheChoreToExpire() throws Exception {
    String drillId = "orph" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    byte[] key = new byte[32];
    new java.security.SecureRandom().nextBytes(key);
    UUID app =
        join(new AppStore(pool, new SecretCipher(key))
                .create("drill-orphans-it", DeliveryMode.WEBSOCKET, java.util.Optional.empty()))
            .app()
            .appId();
    String node = "gone-" + drillId;
    List<String> merchants =
        List.of(DrillStore.prefix(drillId) + "0", DrillStore.prefix(drillId) + "1");
    join(store.create(drillId, app, new JsonObject(), node, merchants, 1000));

    // the node comes back under its id: its drills from before are orphans
    assertThat(join(store.failOrphans(node, Drills.STALE_S))).containsExactly(app);

    List<String> noted = new ArrayList<>();
    for (Row r :
        join(
            pool.preparedQuery(
                    "SELECT r.merchant_id FROM revoked_channels r WHERE r.app_id = $1"
                        + " AND r.ttl_ms = 86400000"
                        + " AND NOT EXISTS (SELECT 1 FROM grants g"
                        + " WHERE g.app_id = r.app_id AND g.merchant_id = r.merchant_id)"
                        + " ORDER BY r.merchant_id")
                .execute(Tuple.of(app)))) {
      noted.add(r.getString(0));
    }
    assertThat(noted).as("revoked, their expiry still to set").isEqualTo(merchants);
    join(
        pool.preparedQuery("DELETE FROM revoked_channels WHERE app_id = $1")
            .execute(Tuple.of(app)));
    join(pool.preparedQuery("DELETE FROM drills WHERE drill_id = $1").execute(Tuple.of(drillId)));
    join(pool.preparedQuery("DELETE FROM apps WHERE app_id = $1").execute(Tuple.of(app)));
    join(
        pool.preparedQuery("DELETE FROM merchants WHERE drill_id = $1").execute(Tuple.of(drillId)));
  }

  static <T> T join(io.vertx.core.Future<T> f) throws Exception {
    return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
