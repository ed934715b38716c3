package io.orderpush.gateway.replay;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.gateway.http.ApiException;
import io.orderpush.gateway.http.AppAuth;
import io.orderpush.gateway.ingest.EventParser;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.events.EventLog;
import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import io.vertx.sqlclient.Pool;
import java.util.List;
import java.util.Map;

/**
 * {@code GET /v1/merchants/{merchantId}/events?fromSeq=&toSeq=&limit=}: a granted app's stored
 * events in seq order as NDJSON, streamed page by page and paused while the client is slow, so
 * memory stays flat however long the range. The cursor does not move.
 */
public final class ReplayHandler implements Handler<RoutingContext> {

  static final int PAGE = 1000;

  private final EventLog log;
  private final Pool pool;
  private final GrantStore grants;
  private final int maxEvents;
  private final Counter streamed;

  public ReplayHandler(
      EventLog log, Pool pool, GrantStore grants, int maxEvents, MeterRegistry registry) {
    this.log = log;
    this.pool = pool;
    this.grants = grants;
    this.maxEvents = maxEvents;
    this.streamed =
        Counter.builder("gateway.replay.events")
            .description("Events written to replay responses")
            .register(registry);
  }

  @Override
  public void handle(RoutingContext ctx) {
    String merchantId = merchantId(ctx);
    long fromSeq = param(ctx, "fromSeq", 1, 1, Long.MAX_VALUE);
    long toSeq = param(ctx, "toSeq", Long.MAX_VALUE, fromSeq, Long.MAX_VALUE);
    long limit = param(ctx, "limit", maxEvents, 1, maxEvents);
    var app = AppAuth.app(ctx);
    grants
        .find(app.appId(), merchantId)
        .compose(
            grant -> {
              if (grant.isEmpty()) {
                // The same answer whether or not the merchant exists.
                throw new ApiException(
                    403, "forbidden", "this app has no grant for merchant " + merchantId);
              }
              return log.oldestRetained(pool, merchantId);
            })
        .map(
            oldest -> {
              if (fromSeq < oldest && oldest > 1) {
                throw new ApiException(
                    410,
                    "expired",
                    "events before seq " + oldest + " of " + merchantId + " are past retention",
                    List.of(Map.of("oldestSeq", oldest)));
              }
              return oldest;
            })
        .onSuccess(
            oldest -> {
              HttpServerResponse resp =
                  ctx.response().setChunked(true).putHeader("Content-Type", "application/x-ndjson");
              page(resp, merchantId, fromSeq, toSeq, limit);
            })
        .onFailure(ctx::fail);
  }

  private void page(
      HttpServerResponse resp, String merchantId, long next, long toSeq, long remaining) {
    if (remaining <= 0 || next > toSeq || resp.closed()) {
      resp.end();
      return;
    }
    int want = (int) Math.min(Math.min(PAGE, remaining), toSeq - next + 1);
    log.read(pool, merchantId, next, want)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                // Headers are out: the only honest signal left is to cut the stream short.
                resp.reset();
                return;
              }
              List<LoggedEvent> events = ar.result();
              if (events.isEmpty()) {
                resp.end();
                return;
              }
              StringBuilder sb = new StringBuilder(events.size() * 450);
              long last = next - 1;
              int n = 0;
              for (LoggedEvent e : events) {
                if (e.seq() > toSeq) {
                  break;
                }
                sb.append(e.json()).append('\n');
                last = e.seq();
                n++;
              }
              if (n == 0) {
                resp.end();
                return;
              }
              long after = last + 1;
              long left = remaining - n;
              resp.write(sb.toString());
              streamed.increment(n);
              if (resp.writeQueueFull()) {
                resp.drainHandler(v -> page(resp, merchantId, after, toSeq, left));
              } else {
                page(resp, merchantId, after, toSeq, left);
              }
            });
  }

  static String merchantId(RoutingContext ctx) {
    String m = ctx.pathParam("merchantId");
    if (m == null || !EventParser.MERCHANT_ID.matcher(m).matches()) {
      throw ApiException.badRequest("merchantId must match " + EventParser.MERCHANT_ID.pattern());
    }
    return m;
  }

  static long param(RoutingContext ctx, String name, long dflt, long min, long max) {
    String raw = ctx.queryParams().get(name);
    if (raw == null) {
      return dflt;
    }
    try {
      long v = Long.parseLong(raw);
      if (v >= min && v <= max) {
        return v;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw ApiException.badRequest(name + " must be an integer from " + min + " to " + max);
  }
}
