package io.orderpush.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.persistence.apps.App;
import io.orderpush.persistence.apps.NotFoundException;
import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A read of an app as active that started before this node stopped it (a change notice's lookup
 * racing a freeze) does not start its delivery again: a callback endpoint is not reopened. A read
 * that starts after, as an unfreeze makes, does. The same holds for the WebSocket stop mark: a
 * connection whose upgrade checked the app before the freeze stays refused.
 */
class StaleActiveReadIT {

  static TestGateway gw;

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of("GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @Test
  void shouldNotReopenTheCallbackEndpointOfAnAppFrozenAfterTheReadThatFoundItActive()
      throws Exception {
    TestApps.Created created = TestApps.create(gw, "stale-active", "http://127.0.0.1:9/hook");
    UUID appId = UUID.fromString(created.appId());
    var callbacks = gw.gateway.delivery().callbacks();
    Await.until("the endpoint open", Duration.ofSeconds(30), () -> hasEndpoint(appId));
    long readAt = System.nanoTime();
    App before = join(gw.gateway.apps.find(appId)).orElseThrow();
    assertThat(before.state()).isEqualTo("active");
    TestApps.freeze(gw, created.appId());
    assertThat(hasEndpoint(appId)).isFalse();
    // the lookup that found it active lands after the freeze
    join(gw.gateway.delivery().streams().appActive(appId, readAt));
    join(callbacks.appActive(before, readAt));
    assertThat(hasEndpoint(appId)).as("an endpoint opened by the stale read").isFalse();
    // an unfreeze's own read comes after the stop: delivery starts again
    assertThat(
            gw.send("POST", "/v1/apps/" + appId + "/unfreeze", TestGateway.ADMIN_TOKEN, null)
                .statusCode())
        .isEqualTo(200);
    Await.until("the endpoint open again", Duration.ofSeconds(30), () -> hasEndpoint(appId));
    // gone, so that no later gateway on this database keeps calling its dead URL
    assertThat(gw.send("DELETE", "/v1/apps/" + appId, TestGateway.ADMIN_TOKEN, null).statusCode())
        .isEqualTo(204);
  }

  @Test
  void shouldKeepRefusingAConnectionCheckedBeforeTheFreezeOfAWebSocketAppAfterAStaleActiveRead()
      throws Exception {
    TestApps.Created created = TestApps.create(gw, "stale-active-ws", null);
    UUID appId = UUID.fromString(created.appId());
    var streams = gw.gateway.delivery().streams();
    try {
      long readAt = System.nanoTime();
      App before = join(gw.gateway.apps.find(appId)).orElseThrow();
      assertThat(before.state()).isEqualTo("active");
      // an upgrade that checked the app here at readAt, its socket not yet taken over
      long upgradeCheckedAt = readAt;
      TestApps.freeze(gw, created.appId());
      assertThat(join(streams.stoppedFor(appId, upgradeCheckedAt))).contains("app_frozen");
      // the lookup that found it active lands after the freeze: the mark stays
      join(streams.appActive(appId, readAt));
      assertThat(join(streams.stoppedFor(appId, upgradeCheckedAt)))
          .as("the connection checked before the freeze, after the stale read")
          .contains("app_frozen");
      // an unfreeze's own read comes after the stop: connections are taken again
      assertThat(
              gw.send("POST", "/v1/apps/" + appId + "/unfreeze", TestGateway.ADMIN_TOKEN, null)
                  .statusCode())
          .isEqualTo(200);
      Await.until(
          "the stop mark lifted by the unfreeze's read",
          Duration.ofSeconds(30),
          () -> join(streams.stoppedFor(appId, upgradeCheckedAt)).isEmpty());
    } finally {
      gw.send("DELETE", "/v1/apps/" + appId, TestGateway.ADMIN_TOKEN, null);
    }
  }

  static boolean hasEndpoint(UUID appId) {
    try {
      join(gw.gateway.delivery().callbacks().view(appId));
      return true;
    } catch (AssertionError e) {
      if (e.getCause() instanceof NotFoundException) {
        return false;
      }
      throw e;
    }
  }

  static <T> T join(io.vertx.core.Future<T> f) {
    try {
      return f.toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      throw new AssertionError(e.getCause().toString(), e.getCause());
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
