package io.orderpush.persistence.pg;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.sqlclient.Pool;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two pools stand for two gateway nodes on one PostgreSQL: while one runs a chore, the other skips
 * it; once the first is done, or its session dies, the chore can run again.
 */
class ClusterChoreIT {

  static Vertx vertx;
  static Pool nodeA;
  static Pool nodeB;

  @BeforeAll
  static void start() {
    var pg = TestServices.migratedPg();
    vertx = Vertx.vertx();
    nodeA = PgPools.create(vertx, pg, "chore-a", 2, 100);
    nodeB = PgPools.create(vertx, pg, "chore-b", 2, 100);
  }

  @AfterAll
  static void stop() {
    await(nodeA.close());
    await(nodeB.close());
    await(vertx.close());
  }

  static <T> T await(Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }

  @Test
  void shouldRunAChoreOnOneNodeAtATime() {
    String chore = "test-" + UUID.randomUUID();
    Promise<Void> aWorking = Promise.promise();
    Promise<Void> aMayFinish = Promise.promise();
    Future<Boolean> a =
        ClusterChore.once(
            nodeA,
            chore,
            conn -> {
              aWorking.tryComplete();
              return aMayFinish.future();
            });
    await(aWorking.future());

    assertThat(await(ClusterChore.once(nodeB, chore, conn -> Future.succeededFuture())))
        .as("B while A holds the chore")
        .isFalse();
    assertThat(
            await(
                ClusterChore.once(
                    nodeB, "other-" + chore, conn -> conn.query("SELECT 1").execute())))
        .as("another chore is not held")
        .isTrue();

    aMayFinish.complete();
    assertThat(await(a)).isTrue();
    assertThat(await(ClusterChore.once(nodeB, chore, conn -> conn.query("SELECT 1").execute())))
        .as("B once A is done")
        .isTrue();
  }

  @Test
  void shouldFreeTheChoreWhenTheHoldersSessionDies() {
    String chore = "test-" + UUID.randomUUID();
    Promise<Void> working = Promise.promise();
    Future<Boolean> a =
        ClusterChore.once(
            nodeA,
            chore,
            conn -> {
              working.tryComplete();
              // the node dies mid-chore: PostgreSQL ends its session
              return conn.query("SELECT pg_terminate_backend(pg_backend_pid())").execute();
            });
    await(working.future());
    a.toCompletionStage().toCompletableFuture().handle((v, e) -> null).join();

    assertThat(await(ClusterChore.once(nodeB, chore, conn -> conn.query("SELECT 1").execute())))
        .isTrue();
  }

  @Test
  void shouldReportTheWorksFailureAndStillRelease() {
    String chore = "test-" + UUID.randomUUID();
    Future<Boolean> failed =
        ClusterChore.once(nodeA, chore, conn -> Future.failedFuture("chore failed"));
    assertThat(failed.toCompletionStage().toCompletableFuture().handle((v, e) -> e).join())
        .hasMessageContaining("chore failed");
    assertThat(await(ClusterChore.once(nodeB, chore, conn -> Future.succeededFuture()))).isTrue();
  }
}
