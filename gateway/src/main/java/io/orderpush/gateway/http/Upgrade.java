package io.orderpush.gateway.http;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.RoutingContext;

/**
 * A WebSocket upgrade request held by the router while it is checked: accepted into a WebSocket, or
 * refused with an ordinary JSON error answer ({@code {"error","message"}}, headers such as {@code
 * Retry-After} included), like every other refusal of the API. The server's own handshake hook can
 * only answer a bare status, which is why upgrades go through the router.
 *
 * <p>The request is paused when the upgrade is taken, before any asynchronous check, so that it has
 * not ended by the time it is accepted ({@link HttpServerRequest#toWebSocket()} reads it to its end
 * and resumes it).
 */
public final class Upgrade {

  private final RoutingContext ctx;
  private boolean answered;

  private Upgrade(RoutingContext ctx) {
    this.ctx = ctx;
    ctx.request().pause();
  }

  /** True if the request asks to be upgraded to a WebSocket ({@code Upgrade: websocket}). */
  public static boolean requested(RoutingContext ctx) {
    return ctx.request().headers().contains(HttpHeaders.UPGRADE, HttpHeaders.WEBSOCKET, true);
  }

  /** Takes the upgrade of {@code ctx}, which must be {@link #requested}. */
  public static Upgrade of(RoutingContext ctx) {
    return new Upgrade(ctx);
  }

  public MultiMap headers() {
    return ctx.request().headers();
  }

  public String path() {
    return ctx.request().path();
  }

  public SocketAddress remoteAddress() {
    return ctx.request().remoteAddress();
  }

  /** Completes the handshake (101); fails if the connection went away or the request was bad. */
  public Future<ServerWebSocket> accept() {
    if (answered) {
      return Future.failedFuture(new IllegalStateException("upgrade already answered"));
    }
    answered = true;
    return ctx.request().toWebSocket();
  }

  /** Refuses the upgrade with {@code status} and the JSON error {@code code}: no WebSocket. */
  public void refuse(int status, String code, String message) {
    if (answered) {
      return;
    }
    answered = true;
    // read what is left of the request (nothing, for a GET) so the connection can go on
    ctx.request().resume();
    Failures.send(ctx, status, code, message, null);
  }

  /** {@link #refuse} with a {@code Retry-After} of {@code seconds}. */
  public void refuse(int status, String code, String message, long retryAfterSeconds) {
    if (!answered) {
      ctx.response().putHeader("Retry-After", Long.toString(retryAfterSeconds));
    }
    refuse(status, code, message);
  }

  /** 401 for a missing or wrong token, counted against the caller's address in {@code limiter}. */
  public void unauthorized(AuthFailureLimiter limiter, String realm, String message) {
    limiter.failed(remoteAddress(), realm);
    if (!answered) {
      ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"" + realm + "\"");
    }
    refuse(401, "unauthorized", message);
  }
}
