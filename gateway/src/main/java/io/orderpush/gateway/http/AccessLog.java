package io.orderpush.gateway.http;

import io.orderpush.delivery.logging.LogContext;
import io.orderpush.persistence.apps.App;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.PlatformHandler;
import java.util.Locale;
import java.util.UUID;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The first handler of every request: gives it a request id (the caller's {@code X-Request-Id} when
 * it is a sane token, else a new one), returns it in the answer, keeps it in the MDC while the
 * request's handlers run on this call stack, and writes one access line when the answer ends.
 *
 * <p>The line names the route pattern ({@code /v1/apps/:appId}), not the raw path, so ids do not
 * scatter the log; it never carries headers, query strings or bodies. Logger {@value #LOGGER}: set
 * it to WARN to turn access lines off.
 */
public final class AccessLog implements PlatformHandler {

  public static final String LOGGER = "io.orderpush.gateway.access";
  public static final String HEADER = "X-Request-Id";
  private static final String ID_KEY = "requestId";
  private static final String ROUTE_KEY = "accessLog.route";
  private static final Pattern SANE = Pattern.compile("[A-Za-z0-9._:-]{1,64}");

  /** The request id of a request carrying {@code given}: it, when sane, else a new one. */
  static String idFor(String given) {
    return given != null && SANE.matcher(given).matches() ? given : UUID.randomUUID().toString();
  }

  private static final Logger LOG = LoggerFactory.getLogger(LOGGER);

  /** The id this request got (a new one if it did not pass through here). */
  public static String requestId(RoutingContext ctx) {
    String id = ctx.get(ID_KEY);
    return id != null ? id : UUID.randomUUID().toString();
  }

  @Override
  public void handle(RoutingContext ctx) {
    long start = System.nanoTime();
    String given = ctx.request().getHeader(HEADER);
    String id = idFor(given);
    ctx.put(ID_KEY, id);
    ctx.response().putHeader(HEADER, id);
    // Whichever comes first: the body end (the last byte written) or the routing context's end
    // handler, which under Vert.x 5 may report "Connection closed" for a complete answer; an
    // answer that never ended (a reset, a client gone) is marked as cut short.
    boolean[] logged = {false};
    ctx.addBodyEndHandler(
        v -> {
          if (!logged[0]) {
            logged[0] = true;
            log(ctx, id, start, true);
          }
        });
    ctx.addEndHandler(
        ended -> {
          if (!logged[0]) {
            logged[0] = true;
            log(ctx, id, start, ended.succeeded() || ctx.response().ended());
          }
        });
    if (Upgrade.requested(ctx)) {
      // an accepted upgrade's answer never ends: its line is written when it is accepted
      Upgrade.whenAccepted(
          ctx,
          () -> {
            if (!logged[0]) {
              logged[0] = true;
              log(ctx, id, start, true);
            }
          });
    }
    try (var log = LogContext.with(ID_KEY, id)) {
      ctx.next();
    }
  }

  /** Failure handler placed before the one that answers: its log lines carry the request id. */
  public void failure(RoutingContext ctx) {
    try (var log = LogContext.with(ID_KEY, ctx.get(ID_KEY))) {
      ctx.next();
    }
  }

  /** Called by the first handler of a matched route, so the line names the pattern. */
  static void matched(RoutingContext ctx) {
    if (ctx.currentRoute() != null && ctx.currentRoute().getPath() != null) {
      ctx.put(ROUTE_KEY, ctx.currentRoute().getPath());
    }
  }

  private static void log(RoutingContext ctx, String id, long start, boolean completed) {
    String route = ctx.get(ROUTE_KEY);
    if (route == null && ctx.currentRoute() != null) {
      route = ctx.currentRoute().getPath();
    }
    String path = route != null ? route : ctx.request().path();
    int status = ctx.response().getStatusCode();
    long micros = (System.nanoTime() - start) / 1000;
    App app = AppAuth.app(ctx);
    try (var log =
        LogContext.with(ID_KEY, id)
            .put("method", ctx.request().method().name())
            .put("path", path)
            .put("status", status)
            .put("latencyMs", String.format(Locale.ROOT, "%.3f", micros / 1000.0))
            .put("bytes", ctx.response().bytesWritten())
            .put("app", app != null ? app.appId() : ctx.pathParam("appId"))
            .put("merchant", ctx.pathParam("merchantId"))) {
      LOG.info(
          "{} {} {} {}ms{}",
          ctx.request().method().name(),
          path,
          status,
          micros / 1000,
          completed ? "" : " (connection closed before the answer ended)");
    }
  }
}
