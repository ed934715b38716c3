package io.orderpush.gateway.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.callback.CallbackUrlRefusedException;
import io.orderpush.persistence.apps.NotFoundException;
import io.orderpush.persistence.events.IngestOverloadedException;
import io.orderpush.persistence.events.IngestTimeoutException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.pgclient.PgException;
import java.util.UUID;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one place where failures become HTTP answers. */
public final class Failures {

  private static final Logger LOG = LoggerFactory.getLogger(Failures.class);

  private final Counter internalErrors;
  private final Counter unavailable;

  public Failures(MeterRegistry registry) {
    internalErrors =
        Counter.builder("gateway.http.errors")
            .tag("kind", "internal")
            .description("Requests answered 500 because of a bug or an unexpected failure")
            .register(registry);
    unavailable =
        Counter.builder("gateway.http.errors")
            .tag("kind", "unavailable")
            .description(
                "Requests answered 503 because a backing service was unavailable or overloaded")
            .register(registry);
  }

  /** Router failure handler. */
  public void handle(RoutingContext ctx) {
    if (ctx.response().headWritten()) {
      ctx.response().reset();
      return;
    }
    Throwable err = ctx.failure();
    if (err == null) {
      int status = ctx.statusCode();
      switch (status) {
        case 413 -> send(ctx, 413, "too_large", "request body exceeds the configured limit", null);
        case 404 -> send(ctx, 404, "not_found", "no such resource", null);
        case 405 -> send(ctx, 405, "method_not_allowed", "method not allowed on this path", null);
        case 400 -> send(ctx, 400, "invalid_request", "the request could not be read", null);
        default -> send(ctx, status, "error", "request failed", null);
      }
      return;
    }
    if (err instanceof ApiException api) {
      JsonArray details = new JsonArray();
      api.details().forEach(d -> details.add(new JsonObject(d)));
      send(ctx, api.status(), api.code(), api.getMessage(), details);
    } else if (err instanceof io.vertx.ext.web.handler.HttpException http
        && http.getStatusCode() >= 400
        && http.getStatusCode() < 500) {
      // Vert.x Web's own refusals, such as a query string that is not valid URL encoding.
      send(ctx, http.getStatusCode(), "invalid_request", readable(http), null);
    } else if (err instanceof io.orderpush.delivery.callback.EndpointSuspendedException suspended) {
      send(ctx, 409, "endpoint_suspended", suspended.getMessage(), null);
    } else if (err
        instanceof io.orderpush.delivery.callback.EndpointStateNotStoredException notStored) {
      unavailable.increment();
      LOG.warn(
          "endpoint state not stored on {} {}: {}",
          ctx.request().method(),
          ctx.request().path(),
          String.valueOf(notStored.getCause()));
      ctx.response().putHeader("Retry-After", "1");
      send(ctx, 503, "unavailable", notStored.getMessage(), null);
    } else if (err instanceof CallbackUrlRefusedException refused) {
      send(ctx, 400, "callback_url_refused", refused.getMessage(), null);
    } else if (err instanceof NotFoundException nf) {
      send(ctx, 404, "not_found", nf.getMessage(), null);
    } else if (err instanceof IngestOverloadedException over) {
      unavailable.increment();
      ctx.response().putHeader("Retry-After", "1");
      send(ctx, 503, "overloaded", over.getMessage(), null);
    } else if (err instanceof IngestTimeoutException late) {
      unavailable.increment();
      ctx.response().putHeader("Retry-After", "1");
      send(ctx, 503, "unavailable", late.getMessage(), null);
    } else if (isUnavailable(err)) {
      unavailable.increment();
      LOG.warn(
          "backing service unavailable on {} {}: {}",
          ctx.request().method(),
          ctx.request().path(),
          err.toString());
      ctx.response().putHeader("Retry-After", "1");
      send(ctx, 503, "unavailable", "a backing service is unavailable; retry later", null);
    } else {
      internalErrors.increment();
      String incident = UUID.randomUUID().toString();
      LOG.error(
          "internal error {} on {} {}",
          incident,
          ctx.request().method(),
          ctx.request().path(),
          err);
      send(ctx, 500, "internal", "internal error, incident " + incident, null);
    }
  }

  /** What Vert.x Web found wrong, without echoing more than a little of the request. */
  private static String readable(io.vertx.ext.web.handler.HttpException http) {
    Throwable cause = http.getCause() != null ? http.getCause() : http;
    String why = String.valueOf(cause.getMessage());
    int of = why.indexOf(" of '");
    why = of > 0 ? why.substring(0, of) : why;
    return "the request could not be read: " + (why.length() > 120 ? why.substring(0, 120) : why);
  }

  private static boolean isUnavailable(Throwable err) {
    for (Throwable t = err; t != null; t = t.getCause()) {
      if (t instanceof java.io.IOException
          || t instanceof TimeoutException
          || t instanceof io.vertx.sqlclient.ClosedConnectionException
          || t instanceof io.vertx.core.http.HttpClosedException
          || t instanceof io.vertx.core.VertxException
              && String.valueOf(t.getMessage()).contains("closed")) {
        return true;
      }
      // The PostgreSQL pool found no connection within its wait (pg.query-timeout-ms): every one
      // is busy, or being opened to a server that does not answer. Vert.x says so only in words:
      // "Timeout waiting for connection" (a query on the pool), "Timeout" (a transaction's).
      String message = String.valueOf(t.getMessage());
      if (message.equals("Timeout") || message.equals("Timeout waiting for connection")) {
        return true;
      }
      // Class 08 connection exceptions, 53 insufficient resources, 57 operator intervention
      // (shutdown, statement timeout 57014): PostgreSQL cannot take the request now.
      if (t instanceof PgException pg
          && pg.getSqlState() != null
          && (pg.getSqlState().startsWith("08")
              || pg.getSqlState().startsWith("53")
              || pg.getSqlState().startsWith("57"))) {
        return true;
      }
    }
    return false;
  }

  public static void send(
      RoutingContext ctx, int status, String code, String message, JsonArray details) {
    JsonObject body = new JsonObject().put("error", code).put("message", message);
    body.put("details", details == null ? new JsonArray() : details);
    ctx.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .end(body.encode());
  }
}
