package io.orderpush.persistence.apps;

import static io.orderpush.persistence.apps.GrantsControlVersionIT.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A new grant does not start from a checkpoint an earlier grant of the same app and merchant left
 * behind (a checkpoint write that raced its revoke); a grant made again over a live one keeps its
 * checkpoint.
 */
class GrantCheckpointIT {

  static Vertx vertx;
  static Pool pool;
  static GrantStore grants;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    pool = PgPools.create(vertx, TestServices.migratedPg(), "grant-checkpoint", 2, 100);
    grants = new GrantStore(pool);
  }

  @AfterAll
  static void stop() {
    await(pool.close());
    await(vertx.close());
  }

  static UUID app() {
    return GrantsControlVersionIT.app(pool, "grant-checkpoint");
  }

  static void checkpoint(UUID app, String merchant, long cursor) {
    await(
        pool.preparedQuery(
                "INSERT INTO cursor_checkpoints (app_id, merchant_id, cursor) VALUES ($1, $2, $3)"
                    + " ON CONFLICT (app_id, merchant_id) DO UPDATE SET cursor = excluded.cursor")
            .execute(Tuple.of(app, merchant, cursor)));
  }

  static long resumeFrom(UUID app) {
    return await(grants.forApp(app, 10, "")).get(0).resumeFrom();
  }

  @Test
  void shouldStartANewGrantFromItsOwnStartNotACheckpointLeftByTheRevokedOne() {
    UUID app = app();
    try {
      String m = TestServices.uniqueMerchant("grant-ckpt");
      await(grants.grant(app, m, List.of(), true));
      checkpoint(app, m, 7);
      assertThat(resumeFrom(app)).isEqualTo(7);
      await(grants.revoke(app, m, Duration.ofMinutes(1)));
      checkpoint(app, m, 7); // written by a round that raced the revoke
      await(grants.grant(app, m, List.of(), true));
      assertThat(resumeFrom(app)).as("the new grant's resume point").isZero();
      // made again over a live grant: its checkpoint stays
      checkpoint(app, m, 9);
      await(grants.grant(app, m, List.of("pii"), true));
      assertThat(resumeFrom(app)).isEqualTo(9);
    } finally {
      // its secret is no real ciphertext: other tests read every app's (KeyRotationIT)
      await(pool.preparedQuery("DELETE FROM apps WHERE app_id = $1").execute(Tuple.of(app)));
    }
  }
}
