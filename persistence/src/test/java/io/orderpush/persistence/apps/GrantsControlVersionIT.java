package io.orderpush.persistence.apps;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Tuple;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Grant changes bump their app's control version once per statement (V14): every node still notices
 * the change, and a statement writing 20,000 grants of one app (an app drill's sandbox merchants)
 * updates the app's row once, not 20,000 times.
 */
class GrantsControlVersionIT {

  static Vertx vertx;
  static Pool pool;

  @BeforeAll
  static void start() {
    vertx = Vertx.vertx();
    pool = PgPools.create(vertx, TestServices.migratedPg(), "grants-version", 2, 100);
  }

  @AfterAll
  static void stop() {
    await(pool.close());
    await(vertx.close());
  }

  static <T> T await(Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }

  static UUID app() {
    return app(pool, "versions");
  }

  /**
   * Inserts a bare WebSocket app row (fake token hash and secret, so tests that insert one must
   * delete it: a key rotation reseals every app).
   */
  static UUID app(Pool pool, String name) {
    UUID id = UUID.randomUUID();
    await(
        pool.preparedQuery(
                "INSERT INTO apps (app_id, name, delivery_mode, token_hash, secret_ciphertext)"
                    + " VALUES ($1, $2, 'websocket', $3, $4)")
            .execute(
                Tuple.of(
                    id,
                    name,
                    io.vertx.core.buffer.Buffer.buffer(id.toString()),
                    io.vertx.core.buffer.Buffer.buffer("x"))));
    return id;
  }

  static long version(UUID app) {
    return await(
            pool.preparedQuery("SELECT control_version FROM apps WHERE app_id = $1")
                .execute(Tuple.of(app)))
        .iterator()
        .next()
        .getLong(0);
  }

  @Test
  void shouldBumpEachAppOncePerStatementWhateverTheRowsItWrote() {
    UUID a = app();
    UUID b = app();
    long a0 = version(a);
    long b0 = version(b);
    String prefix = "ver-" + UUID.randomUUID().toString().substring(0, 8) + "-";
    await(
        pool.preparedQuery(
                "INSERT INTO grants (app_id, merchant_id, start_seq)"
                    + " SELECT $1, $2 || n, 0 FROM generate_series(1, 20000) AS n")
            .execute(Tuple.of(a, prefix)));
    assertThat(version(a)).as("20,000 grants in one statement").isEqualTo(a0 + 1);
    assertThat(version(b)).as("another app").isEqualTo(b0);

    await(
        pool.preparedQuery("UPDATE grants SET scopes = '{pii}' WHERE merchant_id LIKE $1")
            .execute(Tuple.of(prefix + "%")));
    assertThat(version(a)).as("a scope change of all of them").isEqualTo(a0 + 2);

    await(
        pool.preparedQuery(
                "INSERT INTO grants (app_id, merchant_id, start_seq) VALUES ($1, $2, 0), ($3, $2, 0)")
            .execute(Tuple.of(a, prefix + "both", b)));
    assertThat(version(a)).as("one statement touching two apps, a").isEqualTo(a0 + 3);
    assertThat(version(b)).as("one statement touching two apps, b").isEqualTo(b0 + 1);

    await(
        pool.preparedQuery("DELETE FROM grants WHERE merchant_id LIKE $1")
            .execute(Tuple.of(prefix + "%")));
    assertThat(version(a)).as("revoked").isEqualTo(a0 + 4);
    assertThat(version(b)).isEqualTo(b0 + 2);

    // deleting an app cascades to its grants; the trigger finds no app to bump and fails nothing
    await(
        pool.preparedQuery("DELETE FROM apps WHERE app_id = ANY($1)")
            .execute(Tuple.of(new UUID[] {a, b})));
  }
}
