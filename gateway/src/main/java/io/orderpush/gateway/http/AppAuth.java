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
  private final boolean beforeBody;

  public AppAuth(AppStore apps) {
    this(apps, AuthFailureLimiter.NONE);
  }

  /** Failures count against the caller's address in {@code limiter}; past its limit, 429. */
  public AppAuth(AppStore apps, AuthFailureLimiter limiter) {
    this(apps, limiter, false);
  }

  private AppAuth(AppStore apps, AuthFailureLimiter limiter, boolean beforeBody) {
    this.apps = apps;
    this.limiter = limiter;
    this.beforeBody = beforeBody;
  }

  /**
   * The same check for a route whose body handler comes next: the request is paused while the token
   * is looked up, so no byte of the body is read (let alone buffered) for a caller without a valid
   * token. The body handler resumes it; a refusal resumes it to drop what is left of the body
   * unread, so the connection can serve its next request.
   */
  public io.vertx.ext.web.handler.PlatformHandler beforeBody() {
    // a platform handler: Vert.x Web lets only those run ahead of a body handler
    return new AppAuth(apps, limiter, true)::handle;
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
    if (beforeBody && !ctx.request().isEnded()) {
      holdBody(ctx);
    }
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
              } else if (!active(ar.result())) {
                Failures.send(ctx, 403, "app_frozen", "this app is frozen", null);
              } else {
                ctx.put(KEY, ar.result().get().app());
                ctx.put(TOKEN_HASH, ar.result().get().tokenHash());
                ctx.remove(REFUSING);
                ctx.next();
              }
            });
  }

  private static boolean active(
      java.util.Optional<io.orderpush.persistence.apps.AuthenticatedApp> found) {
    return found.isPresent() && "active".equals(found.get().app().state());
  }

  /** Set while this handler may still refuse the request: its answer, if any, is a refusal. */
  private static final String REFUSING = "appAuthRefusing";

  /**
   * Pauses the request while the token is checked, so no byte of the body is read (let alone
   * buffered) for a caller without a valid token. Whoever answers (this handler's refusal, or the
   * body handler's own 413 or 417), what is left of the body is then read and dropped, so the
   * connection goes on. A refused client that waits for {@code 100-continue} never sends its body:
   * its connection is closed once the refusal is out, since Vert.x closes one only once its request
   * ended too.
   */
  private static void holdBody(RoutingContext ctx) {
    ctx.put(REFUSING, true);
    ctx.request().pause();
    boolean expect = ctx.request().getHeader("Expect") != null;
    ctx.addHeadersEndHandler(
        v -> {
          if (!ctx.request().isEnded()) {
            if (expect && ctx.get(REFUSING) != null) {
              ctx.response().putHeader("Connection", "close");
            }
            ctx.request().resume();
          }
        });
    if (expect) {
      ctx.addEndHandler(
          v -> {
            if (ctx.get(REFUSING) != null && !ctx.request().isEnded()) {
              ctx.request().connection().close();
            }
          });
    }
  }

  private void unauthorized(RoutingContext ctx) {
    limiter.failed(ctx.request().remoteAddress(), "app");
    ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"app\"");
    Failures.send(ctx, 401, "unauthorized", "missing or wrong app token", null);
  }
}
