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

  private final AppStore apps;

  public AppAuth(AppStore apps) {
    this.apps = apps;
  }

  public static App app(RoutingContext ctx) {
    return ctx.get(KEY);
  }

  @Override
  public void handle(RoutingContext ctx) {
    String token = BearerAuth.bearer(ctx.request().getHeader("Authorization"));
    if (token == null) {
      unauthorized(ctx);
      return;
    }
    apps.findByToken(token)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                ctx.fail(ar.cause());
              } else if (ar.result().isEmpty()) {
                unauthorized(ctx);
              } else if (!"active".equals(ar.result().get().state())) {
                Failures.send(ctx, 403, "app_frozen", "this app is frozen", null);
              } else {
                ctx.put(KEY, ar.result().get());
                ctx.next();
              }
            });
  }

  private static void unauthorized(RoutingContext ctx) {
    ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"app\"");
    Failures.send(ctx, 401, "unauthorized", "missing or wrong app token", null);
  }
}
