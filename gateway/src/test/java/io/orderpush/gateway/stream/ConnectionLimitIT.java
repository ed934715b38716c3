package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.testing.RawHttp;
import io.vertx.core.Future;
import io.vertx.core.http.UpgradeRejectedException;
import io.vertx.core.json.JsonObject;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code stream.max-connections-per-app}: one app cannot open connections without end on a node.
 */
class ConnectionLimitIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final int LIMIT = 3;
  static TestGateway gw;
  static StreamFixture fx;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of("GATEWAY_STREAM_MAX_CONNECTIONS_PER_APP", Integer.toString(LIMIT)));
    fx = new StreamFixture(gw);
  }

  @AfterAll
  static void stop() {
    fx.close();
    gw.close();
  }

  static RawHttp.Response refusal(String token) {
    try (var ws =
        RawHttp.WebSocketConnection.open("127.0.0.1", gw.port, "/v1/stream", token, 10_000)) {
      return ws.handshake;
    }
  }

  @Test
  void shouldRefuseAnUpgradePastTheAppsLimitWith429AndServeOtherApps() {
    var app = fx.app("websocket");
    List<StreamClient> open = new ArrayList<>();
    for (int i = 0; i < LIMIT; i++) {
      open.add(fx.connect(app));
    }
    fx.until("all joined", WAIT, () -> open.stream().allMatch(c -> c.hello != null));

    RawHttp.Response refused = refusal(app.token());
    assertThat(refused.status()).as(refused.body()).isEqualTo(429);
    assertThat(refused.header("Retry-After")).isEqualTo("10");
    assertThat(new JsonObject(refused.body()).getString("error")).isEqualTo("too_many_connections");

    var other = fx.app("websocket");
    StreamClient ofOther = fx.connect(other);
    fx.until("another app is served", WAIT, () -> ofOther.hello != null);

    open.get(0).close();
    fx.until("room again once one closed", WAIT, () -> refusal(app.token()).status() == 101);
    assertThat(open.subList(1, LIMIT)).allMatch(c -> !c.closed && c.errors.isEmpty());
  }

  @Test
  void shouldKeepAtMostTheLimitOpenWhenManyUpgradesOfOneAppRaceEachOther() {
    var app = fx.app("websocket");
    // all at once: several pass the check before the upgrade while none has joined yet
    List<Future<StreamClient>> racing = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      racing.add(StreamClient.connect(fx.vertx, gw.port, app.token()));
    }
    List<StreamClient> accepted = new ArrayList<>();
    for (Future<StreamClient> f : racing) {
      try {
        accepted.add(fx.watch(StreamFixture.join(f)));
      } catch (RuntimeException e) {
        Throwable t = e;
        while (t != null && !(t instanceof UpgradeRejectedException)) {
          t = t.getCause();
        }
        assertThat(t).as("a refusal, not another failure: " + e).isNotNull();
        assertThat(((UpgradeRejectedException) t).getStatus()).isEqualTo(429);
      }
    }
    // a connection turned away as it joins got hello first: wait for the ones left open to settle
    fx.until(
        "the limit's worth left open, the others closed with too_many_connections",
        WAIT,
        () ->
            accepted.stream().filter(c -> !c.closed).count() == LIMIT
                && accepted.stream().filter(c -> !c.closed).allMatch(c -> c.hello != null)
                && accepted.stream()
                    .filter(c -> c.closed)
                    .allMatch(
                        c ->
                            c.errors.stream()
                                .anyMatch(
                                    e -> "too_many_connections".equals(e.getString("code")))));
    List<StreamClient> stillOpen = accepted.stream().filter(c -> !c.closed).toList();
    assertThat(stillOpen).as("connections of the app left open").hasSize(LIMIT);
    assertThat(refusal(app.token()).status()).isEqualTo(429);
    // the ones turned away left nothing counted behind them
    stillOpen.get(0).close();
    fx.until("room for one once one closed", WAIT, () -> refusal(app.token()).status() == 101);
  }
}
