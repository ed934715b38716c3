package io.orderpush.gateway.http;

import io.orderpush.persistence.apps.App;
import io.orderpush.persistence.apps.AppStore;
import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;

/**
 * Authenticates an app by its bearer token and puts the {@link App} in the context for the next
 * handler.
 */
public final class AppAuth implements Handler<RoutingContext> {

  static final String KEY = "app";
  static final String TOKEN_HASH = "appTokenHash";

  private final AppStore apps;
  private final AuthFailureLimiter limiter;

  public AppAuth(AppStore apps) {
    this(apps, AuthFailureLimiter.NONE);
  }

  /** Failures count against the caller's address in {@code limiter}; past its limit, 429. */
  public AppAuth(AppStore apps, AuthFailureLimiter limiter) {
    this.apps = apps;
    this.limiter = limiter;
  }

  public static App app(RoutingContext ctx) {
    return ctx.get(KEY);
  }

  /**
   * SHA-256 of the token the app authenticated with (a rotation may end it while a replay runs).
   */
  public static byte[] tokenHash(RoutingContext ctx) {
    return ctx.get(TOKEN_HASH);
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (limiter.refuse(ctx, "app")) {
      return;
    }
    String token = BearerAuth.bearer(ctx.request().getHeader("Authorization"));
    if (token == null) {
      unauthorized(ctx);
      return;
    }
    apps.authenticate(token)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                ctx.fail(ar.cause());
              } else if (ar.result().isEmpty()) {
                unauthorized(ctx);
              } else if (!"active".equals(ar.result().get().app().state())) {
                Failures.send(ctx, 403, "app_frozen", "this app is frozen", null);
              } else {
                ctx.put(KEY, ar.result().get().app());
                ctx.put(TOKEN_HASH, ar.result().get().tokenHash());
                ctx.next();
              }
            });
  }

  private void unauthorized(RoutingContext ctx) {
    limiter.failed(ctx.request().remoteAddress(), "app");
    ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"app\"");
    Failures.send(ctx, 401, "unauthorized", "missing or wrong app token", null);
  }
}
