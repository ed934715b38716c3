package io.orderpush.gateway.admin;

import io.orderpush.gateway.ingest.EventParser;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.audit.AuditFilter;
import io.orderpush.persistence.audit.AuditRecord;
import io.orderpush.persistence.audit.AuditStore;
import io.orderpush.persistence.audit.Transport;
import io.orderpush.persistence.events.EventLog;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.sqlclient.SqlClient;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * {@code GET
 * /v1/audit/deliveries?merchantId=&orderId=&appId=&from=&to=&transport=&status=&limit=&after=}:
 * which apps were sent a merchant's or an order's events, when, over which connection, endpoint or
 * replay, and whether masked; oldest first, paged. With {@code appId=&transport=callback} (and
 * {@code status=5xx}, say) it is the endpoint's delivery log: every attempt with its webhook-id,
 * answer, latency and the first bytes of the answer.
 */
public final class AuditApi {

  static final int MAX_LIMIT = 1000;

  /** The {@code status} filter: callback attempts by answer class, or without an answer. */
  static final List<String> STATUS_CLASSES = List.of("2xx", "3xx", "4xx", "5xx", "none");

  static final int DEFAULT_LIMIT = 100;

  private static final DateTimeFormatter ISO_MILLIS =
      DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  /** Order ids are at most this long, as ingest accepts them. */
  static final int MAX_ORDER_ID = 128;

  /** Merchants an order is looked for at without {@code merchantId}: the app's grants. */
  static final int MAX_ORDER_MERCHANTS = 1000;

  private final SqlClient pool;
  private final EventLog log;
  private final GrantStore grants;
  private final AuditStore store = new AuditStore();

  public AuditApi(SqlClient pool, EventLog log, GrantStore grants) {
    this.pool = pool;
    this.log = log;
    this.grants = grants;
  }

  public void deliveries(RoutingContext ctx) {
    var q = ctx.queryParams();
    String merchantId = q.get("merchantId");
    if (merchantId != null && !EventParser.MERCHANT_ID.matcher(merchantId).matches()) {
      throw AppsApi.invalid("merchantId", "must match " + EventParser.MERCHANT_ID.pattern());
    }
    UUID appId = null;
    if (q.get("appId") != null) {
      try {
        appId = UUID.fromString(q.get("appId"));
      } catch (IllegalArgumentException e) {
        throw AppsApi.invalid("appId", "must be an app id (a UUID)");
      }
    }
    if (merchantId == null && appId == null) {
      throw AppsApi.invalid("merchantId", "or appId is required");
    }
    String orderId = q.get("orderId");
    if (orderId != null) {
      if (orderId.isEmpty() || orderId.length() > MAX_ORDER_ID) {
        throw AppsApi.invalid("orderId", "must be 1 to " + MAX_ORDER_ID + " characters");
      }
    }
    Instant from = instant(q.get("from"), "from");
    Instant to = instant(q.get("to"), "to");
    if (from != null && to != null && !from.isBefore(to)) {
      throw AppsApi.invalid("to", "must be after from");
    }
    Transport transport = null;
    if (q.get("transport") != null) {
      transport = Transport.fromWire(q.get("transport"));
      if (transport == null) {
        throw AppsApi.invalid("transport", "must be websocket, callback or replay");
      }
    }
    String status = q.get("status");
    if (status != null && !STATUS_CLASSES.contains(status)) {
      throw AppsApi.invalid("status", "must be one of " + STATUS_CLASSES + " (callback attempts)");
    }
    int limit = limit(q.get("limit"));
    AuditStore.Cursor after = null;
    if (q.get("after") != null) {
      try {
        after = AuditStore.cursor(q.get("after"));
      } catch (IllegalArgumentException e) {
        throw AppsApi.invalid("after", "must be the next of a previous page");
      }
    }
    AuditStore.Cursor cursor = after;
    Transport onlyTransport = transport;
    String merchant = merchantId;
    UUID app = appId;
    // An event is delivered after it is ingested: the order's events are among those ingested up
    // to the end of the range.
    Future<EventLog.OrderEvents> events =
        orderId == null
            ? Future.succeededFuture(null)
            : orderMerchants(merchant, app)
                .compose(ms -> log.eventsOfOrder(pool, ms, orderId, to))
                .map(
                    e -> {
                      if (e.truncated()) {
                        throw AppsApi.invalid(
                            "orderId",
                            "its id is in too many stored chunks of "
                                + (merchant != null ? "the merchant" : "the app's merchants")
                                + " to answer completely: narrow it with "
                                + (merchant != null ? "to" : "merchantId or to"));
                      }
                      return e;
                    });
    events
        .compose(
            e ->
                e != null && e.isEmpty()
                    ? Future.succeededFuture(new AuditStore.Page(List.of(), Optional.empty()))
                    : store.find(
                        pool,
                        new AuditFilter(
                            merchant, app, e, from, to, onlyTransport, status, cursor, limit)))
        .onSuccess(page -> AdminJson.send(ctx, 200, json(page)))
        .onFailure(ctx::fail);
  }

  /**
   * The merchants an order is looked for at: the one named, else those the app holds a grant for
   * now (order ids are unique per merchant, so there may be an order of that id at several), at
   * most {@value #MAX_ORDER_MERCHANTS}: an app granted more must name the merchant.
   */
  private Future<List<String>> orderMerchants(String merchantId, UUID appId) {
    if (merchantId != null) {
      return Future.succeededFuture(List.of(merchantId));
    }
    return grants
        .forApp(appId, MAX_ORDER_MERCHANTS + 1, "")
        .map(
            gs -> {
              if (gs.size() > MAX_ORDER_MERCHANTS) {
                throw AppsApi.invalid(
                    "orderId",
                    "needs merchantId: the app is granted more than "
                        + MAX_ORDER_MERCHANTS
                        + " merchants");
              }
              return gs.stream().map(g -> g.merchantId()).toList();
            });
  }

  static JsonObject json(AuditStore.Page page) {
    JsonArray items = new JsonArray();
    for (AuditRecord r : page.items()) {
      JsonObject item =
          new JsonObject()
              .put("appId", r.appId().toString())
              .put("merchantId", r.merchantId())
              .put("fromSeq", r.fromSeq())
              .put("toSeq", r.toSeq())
              .put("transport", r.transport().wireName())
              .put("via", r.via())
              .put("deliveredAt", ISO_MILLIS.format(Instant.ofEpochMilli(r.deliveredAtMillis())))
              .put("masked", r.masked());
      AuditRecord.Outcome o = r.outcome();
      if (o != null) {
        JsonObject outcome =
            new JsonObject().put("webhookId", o.webhookId()).put("latencyMs", o.latencyMs());
        if (o.status() != 0) {
          outcome.put("status", o.status()).put("responseHead", o.responseHead());
        } else {
          outcome.put("error", o.error());
        }
        item.put("outcome", outcome);
      }
      items.add(item);
    }
    return new JsonObject().put("items", items).put("next", page.next().orElse(null));
  }

  private static Instant instant(String raw, String name) {
    if (raw == null) {
      return null;
    }
    Instant at;
    try {
      at = Instant.parse(raw);
    } catch (DateTimeParseException e) {
      throw AppsApi.invalid(name, "must be an ISO-8601 instant, e.g. 2026-11-11T00:00:00Z");
    }
    if (at.isBefore(AuditStore.EARLIEST) || at.isAfter(AuditStore.LATEST)) {
      throw AppsApi.invalid(name, "must be within the years 1 to 9999");
    }
    return at;
  }

  private static int limit(String raw) {
    if (raw == null) {
      return DEFAULT_LIMIT;
    }
    try {
      int n = Integer.parseInt(raw);
      if (n >= 1 && n <= MAX_LIMIT) {
        return n;
      }
    } catch (NumberFormatException ignored) {
      // reported below
    }
    throw AppsApi.invalid("limit", "must be an integer from 1 to " + MAX_LIMIT);
  }
}
