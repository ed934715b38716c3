package io.orderpush.gateway.replay;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.orderpush.delivery.channel.Channel;
import io.orderpush.gateway.http.AccessLog;
import io.orderpush.gateway.http.ApiException;
import io.orderpush.gateway.http.AppAuth;
import io.orderpush.gateway.ingest.EventParser;
import io.orderpush.persistence.apps.Grant;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.audit.AuditLog;
import io.orderpush.persistence.events.EventLog;
import io.orderpush.persistence.events.EventTypes;
import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import io.vertx.sqlclient.Pool;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code GET /v1/merchants/{merchantId}/events?fromSeq=&toSeq=&limit=&eventTypes=}: a granted app's
 * stored events in seq order as NDJSON, streamed page by page and paused while the client is slow,
 * so memory stays flat however long the range. The cursor does not move. Only events of the types
 * the grant subscribes to are written (and of those, the ones {@code eventTypes} names), each with
 * its {@code prevSeq} in that selection; the first one's is at least {@code fromSeq - 1}.
 */
public final class ReplayHandler implements Handler<RoutingContext> {

  static final int PAGE = 1000;

  private final EventLog log;
  private final Pool pool;
  private final GrantStore grants;
  private final int maxEvents;
  private final Counter streamed;
  private final Counter revoked;
  private final AtomicInteger paced = new AtomicInteger();
  private final ReplayAdmission admission;
  private final ReplayPacer pacer;
  private final io.vertx.core.Vertx vertx;
  private final AuditLog audit;
  private final long stallTimeoutMs;
  private final Counter stalled;
  private final Counter auditWaits;

  /** How long a page waits before it looks again whether the audit trail has room. */
  static final long AUDIT_WAIT_MS = 100;

  public ReplayHandler(
      EventLog log,
      Pool pool,
      GrantStore grants,
      int maxEvents,
      int maxConcurrent,
      int maxConcurrentPerApp,
      long maxEventsPerSecond,
      java.time.Duration stallTimeout,
      io.vertx.core.Vertx vertx,
      MeterRegistry registry,
      AuditLog audit) {
    this.audit = audit;
    this.stallTimeoutMs = stallTimeout.toMillis();
    this.stalled =
        Counter.builder("gateway.replay.stalled")
            .description(
                "Replays cut short because their client read nothing for replay.stall-timeout-ms")
            .register(registry);
    this.auditWaits =
        Counter.builder("gateway.replay.audit.waits")
            .description(
                "Times a replay waited 100 ms to start because the audit trail's buffer was at its"
                    + " mark")
            .register(registry);
    this.admission = new ReplayAdmission(maxConcurrent, maxConcurrentPerApp, registry);
    this.pacer = new ReplayPacer(maxEventsPerSecond);
    this.vertx = vertx;
    this.revoked =
        Counter.builder("gateway.replay.revoked")
            .description("Replays cut short because the merchant revoked the app's grant meanwhile")
            .register(registry);
    io.micrometer.core.instrument.Gauge.builder("gateway.replay.paced", paced, AtomicInteger::get)
        .description("Replays whose next page waits for the node's replay rate")
        .register(registry);
    this.log = log;
    this.pool = pool;
    this.grants = grants;
    this.maxEvents = maxEvents;
    this.streamed =
        Counter.builder("gateway.replay.events")
            .description("Events written to replay responses")
            .register(registry);
  }

  /**
   * The largest seq a request may name: 2^53 - 1, the largest integer every JSON client holds
   * exactly, far above any merchant's head, and far enough below {@link Long#MAX_VALUE} that the
   * read's arithmetic ({@code fromSeq} plus a page) cannot overflow.
   */
  static final long MAX_SEQ = (1L << 53) - 1;

  @Override
  public void handle(RoutingContext ctx) {
    String merchantId = merchantId(ctx);
    long fromSeq = param(ctx, "fromSeq", 1, 1, MAX_SEQ);
    long toSeq = param(ctx, "toSeq", Long.MAX_VALUE, fromSeq, MAX_SEQ);
    long limit = param(ctx, "limit", maxEvents, 1, maxEvents);
    EventTypes asked = eventTypes(ctx);
    var app = AppAuth.app(ctx);
    Runnable release;
    try {
      release = admission.admit(app.appId());
    } catch (ApiException refused) {
      ctx.response().putHeader("Retry-After", "1");
      throw refused;
    }
    HttpServerResponse resp = ctx.response();
    // The access log's request id names the response, in its X-Request-Id and its audit record.
    ReplayAudit audited = new ReplayAudit(audit, app.appId(), merchantId, AccessLog.requestId(ctx));
    // Through the routing context: setting the response's own end or close handler would
    // replace the one that runs every end handler (request metrics, the access log).
    ctx.addEndHandler(
        ended -> {
          release.run();
          audited.ended();
        });
    Replay replay =
        new Replay(
            ctx, app.appId(), AppAuth.tokenHash(ctx), merchantId, resp, toSeq, audited, asked);
    granted(replay)
        .compose(ok -> log.oldestRetained(pool, merchantId))
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
              resp.setChunked(true).putHeader("Content-Type", "application/x-ndjson");
              page(replay, fromSeq, limit, fromSeq - 1, false);
            })
        .onFailure(
            err -> {
              release.run();
              ctx.fail(err);
            });
  }

  /** One replay response being streamed. */
  private record Replay(
      RoutingContext ctx,
      UUID appId,
      byte[] tokenHash,
      String merchantId,
      HttpServerResponse resp,
      long toSeq,
      ReplayAudit audit,
      EventTypes asked) {}

  /**
   * Fails with 403 unless the app is active and holds a grant of the merchant right now, so a
   * freeze, delete or revoke cuts a replay in progress short ({@code app_frozen}, as at the door,
   * {@code app_deleted}, or {@code forbidden} without a grant), and with 401 once the token it was
   * asked with is no longer valid (rotated, its grace period over); else the grant.
   */
  private Future<Grant> granted(Replay r) {
    return grants
        .access(r.appId(), r.merchantId(), r.tokenHash())
        .map(
            access -> {
              if (access.appState() == null) {
                throw new ApiException(403, "app_deleted", "this app is deleted");
              }
              if (!access.tokenValid()) {
                throw new ApiException(
                    401, "token_expired", "the app token of this replay is no longer valid");
              }
              if (!"active".equals(access.appState())) {
                throw new ApiException(403, "app_frozen", "this app is frozen");
              }
              if (access.grant().isEmpty()) {
                // The same answer whether or not the merchant exists.
                throw new ApiException(
                    403, "forbidden", "this app has no grant for merchant " + r.merchantId());
              }
              return access.grant().get();
            });
  }

  /**
   * Streams the next page. The grant is checked again before every page after the first: a merchant
   * that revokes the app stops a replay in progress within a page, new events included, and a scope
   * change applies from the next page (personal data masked unless the grant has {@code pii}).
   * After a page that left events out ({@code sparse}), a whole page is read whatever {@code
   * remaining} is, so a small limit on a rare type does not read the log a few events at a time.
   */
  private void page(Replay r, long next, long remaining, long prev, boolean sparse) {
    HttpServerResponse resp = r.resp();
    if (remaining <= 0 || next > r.toSeq() || resp.closed()) {
      finish(r);
      return;
    }
    if (!r.audit().streamedAny() && !audit.admitting()) {
      // the audit trail could not take the replay's record (one, written when the response ends):
      // it waits to start (the response stays open)
      auditWaits.increment();
      vertx.setTimer(AUDIT_WAIT_MS, t -> page(r, next, remaining, prev, sparse));
      return;
    }
    int want = (int) Math.min(sparse ? PAGE : Math.min(PAGE, remaining), r.toSeq() - next + 1);
    long wait = pacer.take(want);
    if (wait > 0) {
      // Over the node's replay rate: this page waits its turn (the response stays open).
      paced.incrementAndGet();
      vertx.setTimer(
          wait,
          t -> {
            paced.decrementAndGet();
            pagePaced(r, next, remaining, want, prev);
          });
    } else {
      pagePaced(r, next, remaining, want, prev);
    }
  }

  private void pagePaced(Replay r, long next, long remaining, int want, long prevSeq) {
    HttpServerResponse resp = r.resp();
    if (resp.closed()) {
      return;
    }
    Future<Grant> grant = granted(r);
    grant
        .compose(g -> log.read(pool, r.merchantId(), next, want, g.scopes().contains(Channel.PII)))
        .onComplete(
            ar -> {
              if (ar.failed()) {
                if (ar.cause() instanceof ApiException) {
                  revoked.increment();
                }
                if (!resp.headWritten()) {
                  // The first page: nothing is sent yet, so the answer is a status (403 for a
                  // grant revoked since the request came in, 503 for a failed read), not a reset.
                  resp.setChunked(false);
                  resp.headers().remove("Content-Type");
                  if (ar.cause() instanceof ApiException refused && refused.status() == 401) {
                    resp.putHeader("WWW-Authenticate", "Bearer realm=\"app\"");
                  }
                  r.ctx().fail(ar.cause());
                  return;
                }
                // Headers are out: the only honest signal left is to cut the stream short, with
                // nothing more of what is queued (a revoke stops it now, not after the buffer).
                io.orderpush.gateway.http.Connections.abort(r.ctx()).run();
                return;
              }
              List<LoggedEvent> read = ar.result();
              int inRange = 0;
              while (inRange < read.size() && read.get(inRange).seq() <= r.toSeq()) {
                inRange++;
              }
              if (inRange == 0) {
                finish(r);
                return;
              }
              // The grant's event types as they are now (a change applies from the next page),
              // and of those the ones asked for.
              EventTypes subscribed = types(grant.result().eventTypes());
              long prev = read.get(0).seq() == next ? prevSeq : read.get(0).seq() - 1;
              List<LoggedEvent> events =
                  LoggedEvent.included(
                      LoggedEvent.included(read.subList(0, inRange), subscribed, prev),
                      r.asked(),
                      prev);
              boolean sparse = events.size() < inRange;
              if (events.size() > remaining) {
                events = events.subList(0, (int) remaining); // the limit: nothing after is read
              }
              long after = read.get(inRange - 1).seq() + 1;
              int n = events.size();
              long left = remaining - n;
              long nextPrev = n == 0 ? prev : events.get(n - 1).seq();
              if (n > 0) {
                StringBuilder sb = new StringBuilder(n * 450);
                for (LoggedEvent e : events) {
                  e.appendTo(sb).append('\n');
                }
                resp.write(sb.toString());
                boolean masked = !grant.result().scopes().contains(Channel.PII);
                List<LoggedEvent> sent = events;
                r.audit().streamed(i -> sent.get(i).seq(), n, masked);
                streamed.increment(n);
              }
              if (resp.writeQueueFull()) {
                // a client that stops reading is cut off, not left holding a replay slot
                long stall =
                    vertx.setTimer(
                        stallTimeoutMs,
                        t -> {
                          if (!resp.closed()) {
                            stalled.increment();
                            io.orderpush.gateway.http.Connections.abort(r.ctx()).run();
                          }
                        });
                resp.drainHandler(
                    v -> {
                      vertx.cancelTimer(stall);
                      page(r, after, left, nextPrev, sparse);
                    });
              } else {
                page(r, after, left, nextPrev, sparse);
              }
            });
  }

  /**
   * Ends the replay's response. What is still queued for a client that stopped reading would keep
   * its connection, and the memory, for good: while the backlog does not shrink for {@code
   * replay.stall-timeout-ms}, the connection is cut off as a replay in progress is.
   */
  private void finish(Replay r) {
    HttpServerResponse resp = r.resp();
    boolean open = !resp.closed();
    resp.end();
    if (open) {
      java.util.function.LongSupplier backlog =
          io.orderpush.gateway.http.Connections.backlog(r.ctx());
      watchBacklog(r, backlog, backlog.getAsLong());
    }
  }

  private void watchBacklog(Replay r, java.util.function.LongSupplier backlog, long before) {
    if (before <= 0) {
      return; // drained, or gone
    }
    vertx.setTimer(
        stallTimeoutMs,
        t -> {
          long now = backlog.getAsLong();
          if (now > 0 && now >= before) {
            stalled.increment();
            io.orderpush.gateway.http.Connections.abort(r.ctx()).run();
          } else {
            watchBacklog(r, backlog, now);
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

  /** The {@code eventTypes} parameter (comma-separated, as a grant names them); absent: all. */
  static EventTypes eventTypes(RoutingContext ctx) {
    String raw = ctx.queryParams().get("eventTypes");
    if (raw == null || raw.isEmpty()) {
      return EventTypes.ALL;
    }
    try {
      return EventTypes.of(List.of(raw.split(",", -1)));
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest("eventTypes: " + e.getMessage());
    }
  }

  /** A stored grant's event types (validated when granted). */
  private static EventTypes types(List<String> patterns) {
    return patterns.isEmpty() ? EventTypes.ALL : EventTypes.of(patterns);
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
