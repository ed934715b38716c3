package io.orderpush.gateway.stream;

import io.orderpush.delivery.websocket.StreamService;
import io.orderpush.gateway.http.AuthFailureLimiter;
import io.orderpush.gateway.http.BearerAuth;
import io.orderpush.gateway.http.Failures;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.DeliveryMode;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.ServerWebSocketHandshake;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /v1/stream}: the WebSocket handshake is held until the app token is checked, then
 * accepted into the app's consumer group, or rejected with 401 (no or wrong token), 403 (a callback
 * or frozen app) or 404 (another path). Uses the server's handshake hook, made for exactly this
 * kind of asynchronous decision.
 */
public final class StreamHandler {

  public static final String PATH = "/v1/stream";
  private static final Logger LOG = LoggerFactory.getLogger(StreamHandler.class);

  private final AppStore apps;
  private final StreamService streams;
  private final AuthFailureLimiter limiter;

  public StreamHandler(AppStore apps, StreamService streams) {
    this(apps, streams, AuthFailureLimiter.NONE);
  }

  /**
   * Failed upgrades count against the caller's address in {@code limiter}; past its limit, 429
   * (status only: a rejected handshake carries no headers).
   */
  public StreamHandler(AppStore apps, StreamService streams, AuthFailureLimiter limiter) {
    this.apps = apps;
    this.streams = streams;
    this.limiter = limiter;
  }

  public void handshake(ServerWebSocketHandshake hs) {
    if (!PATH.equals(hs.path())) {
      hs.reject(404);
      return;
    }
    if (limiter.refuses(hs.remoteAddress(), "stream")) {
      hs.reject(429);
      return;
    }
    String token = BearerAuth.bearer(hs.headers().get("Authorization"));
    if (token == null) {
      limiter.failed(hs.remoteAddress(), "stream");
      hs.reject(401);
      return;
    }
    // The handshake is finished on the HTTP connection's own context, whatever thread the lookup
    // completes on.
    Context own = Vertx.currentContext();
    long checkedAt = System.nanoTime();
    apps.findByToken(token)
        .onComplete(
            ar ->
                own.runOnContext(
                    v -> {
                      if (ar.failed()) {
                        LOG.warn(
                            "WebSocket handshake refused, app lookup failed: {}",
                            ar.cause().toString());
                        hs.reject(503);
                      } else if (ar.result().isEmpty()) {
                        limiter.failed(hs.remoteAddress(), "stream");
                        hs.reject(401);
                      } else if (ar.result().get().mode() != DeliveryMode.WEBSOCKET
                          || !"active".equals(ar.result().get().state())) {
                        hs.reject(403);
                      } else {
                        var appId = ar.result().get().appId();
                        hs.accept()
                            .onSuccess(ws -> streams.accept(ws, appId, checkedAt))
                            .onFailure(
                                err ->
                                    LOG.warn(
                                        "WebSocket handshake of app {} failed: {}",
                                        appId,
                                        err.toString()));
                      }
                    }));
  }

  /** A plain GET without the upgrade headers. */
  public static void notAnUpgrade(RoutingContext ctx) {
    Failures.send(ctx, 400, "upgrade_required", "GET /v1/stream must be a WebSocket upgrade", null);
  }
}
