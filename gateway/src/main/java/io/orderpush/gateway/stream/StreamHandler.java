package io.orderpush.gateway.stream;

import io.orderpush.delivery.websocket.StreamService;
import io.orderpush.gateway.http.BearerAuth;
import io.orderpush.gateway.http.Failures;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.DeliveryMode;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;

/**
 * {@code GET /v1/stream}: authenticates the app token before the upgrade (401 otherwise), then hands
 * the socket to the app's consumer group.
 */
public final class StreamHandler implements Handler<RoutingContext> {

  private final AppStore apps;
  private final StreamService streams;

  public StreamHandler(AppStore apps, StreamService streams) {
    this.apps = apps;
    this.streams = streams;
  }

  @Override
  public void handle(RoutingContext ctx) {
    String token = BearerAuth.bearer(ctx.request().getHeader("Authorization"));
    if (token == null) {
      unauthorized(ctx);
      return;
    }
    // Paused until toWebSocket() takes the request over (it resumes it once its own handlers are
    // set); resuming earlier could let the end of the request pass before the upgrade sees it.
    ctx.request().pause();
    apps.findByToken(token).onComplete(ar -> {
      if (ar.failed()) {
        ctx.fail(ar.cause());
      } else if (ar.result().isEmpty()) {
        unauthorized(ctx);
      } else if (ar.result().get().mode() != DeliveryMode.WEBSOCKET) {
        Failures.send(ctx, 403, "wrong_delivery_mode", "this app receives its events by HTTP callback", null);
      } else if (!"active".equals(ar.result().get().state())) {
        Failures.send(ctx, 403, "app_frozen", "this app is frozen", null);
      } else {
        var appId = ar.result().get().appId();
        ctx.request().toWebSocket()
            .onSuccess(ws -> streams.accept(ws, appId))
            .onFailure(err -> {
              if (!ctx.response().headWritten()) {
                Failures.send(ctx, 400, "upgrade_failed", "a WebSocket upgrade was expected: " + err.getMessage(), null);
              }
            });
      }
    });
  }

  private static void unauthorized(RoutingContext ctx) {
    ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"app\"");
    Failures.send(ctx, 401, "unauthorized", "missing or wrong app token", null);
  }
}
