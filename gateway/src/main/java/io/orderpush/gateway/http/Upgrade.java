package io.orderpush.gateway.http;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.net.SocketAddress;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A WebSocket upgrade request held by the router while it is checked: accepted into a WebSocket, or
 * refused with an ordinary JSON error answer ({@code {"error","message"}}, headers such as {@code
 * Retry-After} included), like every other refusal of the API. The server's own handshake hook can
 * only answer a bare status, which is why upgrades go through the router.
 *
 * <p>The request is paused when the upgrade is taken, before any asynchronous check, so that it has
 * not ended by the time it is accepted ({@link HttpServerRequest#toWebSocket()} reads it to its end
 * and resumes it). An accepted upgrade's answer (101) never "ends" for the router: handlers that
 * act when an answer ends register with {@link #whenAccepted} as well.
 */
public final class Upgrade {

  private static final String ACCEPTED_KEY = "upgrade.accepted";

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

  /**
   * Runs {@code then} on the request's context once its upgrade is accepted (the access line, the
   * route's timer), in the order registered.
   */
  static void whenAccepted(RoutingContext ctx, Runnable then) {
    List<Runnable> hooks = ctx.get(ACCEPTED_KEY);
    if (hooks == null) {
      hooks = new ArrayList<>(2);
      ctx.put(ACCEPTED_KEY, hooks);
    }
    hooks.add(then);
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

  /**
   * Completes the handshake (101). A request that is not a valid RFC 6455 handshake is refused here
   * with a JSON error (400; 426 with {@code Sec-WebSocket-Version: 13} for another version) and the
   * future fails; it also fails if the connection went away.
   */
  public Future<ServerWebSocket> accept() {
    if (answered) {
      return Future.failedFuture(new IllegalStateException("upgrade already answered"));
    }
    MultiMap h = ctx.request().headers();
    String connection = h.get(HttpHeaders.CONNECTION);
    String key = h.get("Sec-WebSocket-Key");
    if (connection == null || !connection.toLowerCase(Locale.ROOT).contains("upgrade")) {
      return refused(400, "invalid_request", "a WebSocket upgrade needs Connection: Upgrade");
    }
    if (!"13".equals(h.get("Sec-WebSocket-Version"))) {
      ctx.response().putHeader("Sec-WebSocket-Version", "13");
      return refused(426, "upgrade_required", "only WebSocket version 13 (RFC 6455) is served");
    }
    if (key == null || key.isBlank()) {
      return refused(400, "invalid_request", "a WebSocket upgrade needs Sec-WebSocket-Key");
    }
    if (ctx.request().isEnded()) {
      // read before it was taken (pipelined behind another request): it cannot be upgraded now
      return refused(
          400, "invalid_request", "a WebSocket upgrade must not follow other requests unanswered");
    }
    answered = true;
    return ctx.request()
        .toWebSocket()
        .onSuccess(
            ws -> {
              List<Runnable> hooks = ctx.get(ACCEPTED_KEY);
              if (hooks != null) {
                ctx.remove(ACCEPTED_KEY);
                hooks.forEach(Runnable::run);
              }
            });
  }

  private Future<ServerWebSocket> refused(int status, String code, String message) {
    refuse(status, code, message);
    return Future.failedFuture(new IllegalStateException(status + " " + code + ": " + message));
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
