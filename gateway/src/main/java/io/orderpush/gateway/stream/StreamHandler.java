package io.orderpush.gateway.stream;

import io.orderpush.delivery.websocket.StreamService;
import io.orderpush.gateway.http.AuthFailureLimiter;
import io.orderpush.gateway.http.BearerAuth;
import io.orderpush.gateway.http.Failures;
import io.orderpush.gateway.http.Upgrade;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.AuthenticatedApp;
import io.orderpush.persistence.apps.DeliveryMode;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code GET /v1/stream}: the WebSocket upgrade is held until the app token is checked, then
 * accepted into the app's consumer group, or refused with a JSON error like every other answer of
 * the API: 401 (no or wrong token), 403 (a callback or frozen app), 429 with {@code Retry-After}
 * (too many failed authentications from the address, or {@code too_many_connections} of the app on
 * this node), 503 (the app could not be looked up). A plain GET without the upgrade headers gets
 * 400. A connection opened with a token that a rotation then replaced is closed ({@code
 * token_expired}) when the rotation's grace period ends.
 */
public final class StreamHandler implements Handler<RoutingContext> {

  public static final String PATH = "/v1/stream";

  /** What a refused upgrade of an app with too many connections is told to wait, seconds. */
  static final int RETRY_AFTER_S = 10;

  private static final Logger LOG = LoggerFactory.getLogger(StreamHandler.class);

  private final AppStore apps;
  private final StreamService streams;
  private final AuthFailureLimiter limiter;

  /** Failed upgrades count against the caller's address in {@code limiter}; past its limit, 429. */
  public StreamHandler(AppStore apps, StreamService streams, AuthFailureLimiter limiter) {
    this.apps = apps;
    this.streams = streams;
    this.limiter = limiter;
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (!Upgrade.requested(ctx)) {
      Failures.send(
          ctx, 400, "upgrade_required", "GET /v1/stream must be a WebSocket upgrade", null);
      return;
    }
    Upgrade up = Upgrade.of(ctx);
    if (limiter.refuse(up, "stream")) {
      return;
    }
    String token = BearerAuth.bearer(up.headers().get("Authorization"));
    if (token == null) {
      up.unauthorized(limiter, "stream", "missing or wrong app token");
      return;
    }
    long checkedAt = System.nanoTime();
    // Completes on the request's own context (the router's handlers run there).
    apps.authenticate(token)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                LOG.warn("WebSocket upgrade refused, app lookup failed: {}", ar.cause().toString());
                up.refuse(503, "unavailable", "the app could not be looked up; retry", 1);
              } else if (ar.result().isEmpty()) {
                up.unauthorized(limiter, "stream", "missing or wrong app token");
              } else if (!"active".equals(ar.result().get().app().state())) {
                up.refuse(403, "app_frozen", "this app is frozen");
              } else if (ar.result().get().app().mode() != DeliveryMode.WEBSOCKET) {
                up.refuse(
                    403,
                    "not_a_websocket_app",
                    "this app receives its events by HTTP callback, not over /v1/stream");
              } else {
                AuthenticatedApp found = ar.result().get();
                var appId = found.app().appId();
                if (!streams.accepting()) {
                  up.refuse(
                      503, "unavailable", "this node is shutting down; connect to another", 1);
                  return;
                }
                if (!streams.roomFor(appId)) {
                  up.refuse(
                      429,
                      StreamService.TOO_MANY_CONNECTIONS,
                      "this app has the most connections it may have open on this node ("
                          + streams.settings().maxConnectionsPerApp()
                          + "); close some, or connect to another node",
                      RETRY_AFTER_S);
                  return;
                }
                Runnable abort = io.orderpush.gateway.http.Connections.abort(ctx);
                up.accept()
                    .onSuccess(
                        ws ->
                            streams.accept(
                                ws, appId, checkedAt, found.tokenHash(), found.validUntil(), abort))
                    .onFailure(
                        err ->
                            LOG.warn(
                                "WebSocket handshake of app {} failed: {}", appId, err.toString()));
              }
            });
  }
}
