package io.orderpush.gateway.replay;

import io.orderpush.delivery.Delivery;
import io.orderpush.gateway.http.ApiException;
import io.orderpush.gateway.http.AppAuth;
import io.orderpush.gateway.ingest.EventParser;
import io.orderpush.persistence.apps.Grant;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.events.EventLog;
import io.vertx.core.Future;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.sqlclient.Pool;
import java.util.List;
import java.util.Map;

/** An app's view of its channels, and setting a channel's cursor (rewind or skip). */
public final class ChannelsApi {

  static final int MAX_PAGE = 500;

  private final EventLog log;
  private final Pool pool;
  private final GrantStore grants;
  private final Delivery delivery;
  private final io.orderpush.gateway.admin.Changes changes;

  public ChannelsApi(
      EventLog log,
      Pool pool,
      GrantStore grants,
      Delivery delivery,
      io.orderpush.gateway.admin.Changes changes) {
    this.log = log;
    this.pool = pool;
    this.grants = grants;
    this.delivery = delivery;
    this.changes = changes;
  }

  /**
   * {@code GET /v1/channels?limit=&after=}: merchant, head, cursor, lag, state; paged by merchant.
   */
  public void list(RoutingContext ctx) {
    var app = AppAuth.app(ctx);
    int limit = (int) ReplayHandler.param(ctx, "limit", 100, 1, MAX_PAGE);
    String after = ctx.queryParams().get("after");
    if (after != null && !EventParser.MERCHANT_ID.matcher(after).matches()) {
      throw ApiException.badRequest("after must be a merchantId from a previous page");
    }
    grants
        .forApp(app.appId(), limit, after == null ? "" : after)
        .compose(
            page -> {
              List<String> merchants = page.stream().map(Grant::merchantId).toList();
              Future<Map<String, Long>> heads = log.heads(pool, merchants);
              Future<List<Delivery.ChannelView>> channels =
                  delivery.channels(app.appId(), merchants);
              return Future.all(heads, channels)
                  .map(
                      v -> {
                        JsonArray items = new JsonArray();
                        for (int i = 0; i < page.size(); i++) {
                          Grant g = page.get(i);
                          long head = heads.result().getOrDefault(g.merchantId(), 0L);
                          Delivery.ChannelView channel = channels.result().get(i);
                          long cursor = channel.cursor() >= 0 ? channel.cursor() : g.resumeFrom();
                          items.add(
                              new JsonObject()
                                  .put("merchantId", g.merchantId())
                                  .put("headSeq", head)
                                  .put("cursor", cursor)
                                  .put("lag", Math.max(0, head - cursor))
                                  .put("state", channel.delivering() ? "delivering" : "idle"));
                        }
                        return new JsonObject()
                            .put("channels", items)
                            .put(
                                "next",
                                page.size() == limit
                                    ? page.get(page.size() - 1).merchantId()
                                    : null);
                      });
            })
        .onSuccess(
            body -> ctx.response().putHeader("Content-Type", "application/json").end(body.encode()))
        .onFailure(ctx::fail);
  }

  /**
   * {@code PUT /v1/channels/{merchantId}/cursor {"seq": N}}: rewind or skip. The Redis cursor and
   * epoch change in one step, so no ack of the old position can move the cursor afterwards; the
   * checkpoint follows at once; live delivery restarts from N + 1.
   */
  public void set(RoutingContext ctx) {
    var app = AppAuth.app(ctx);
    String merchantId = ReplayHandler.merchantId(ctx);
    JsonObject body;
    io.orderpush.gateway.http.JsonDepth.check(ctx.body() == null ? null : ctx.body().buffer());
    try {
      body = ctx.body() == null ? null : ctx.body().asJsonObject();
    } catch (RuntimeException e) {
      throw new ApiException(400, "malformed_json", "the body is not a JSON object");
    }
    if (body == null
        || !(body.getValue("seq") instanceof Number n)
        || n.longValue() < 0
        || n.doubleValue() != n.longValue()) {
      throw ApiException.badRequest("the body must be {\"seq\": N} with N a non-negative integer");
    }
    long seq = n.longValue();
    java.util.concurrent.atomic.AtomicLong grantVersion =
        new java.util.concurrent.atomic.AtomicLong();
    grants
        .find(app.appId(), merchantId)
        .compose(
            grant -> {
              if (grant.isEmpty()) {
                throw new ApiException(
                    403, "forbidden", "this app has no grant for merchant " + merchantId);
              }
              grantVersion.set(grant.get().grantedAt().toEpochMilli());
              return Future.all(log.head(pool, merchantId), log.oldestRetained(pool, merchantId));
            })
        .compose(
            f -> {
              long head = f.resultAt(0);
              long oldest = f.resultAt(1);
              if (seq > head) {
                throw ApiException.badRequest(
                    "seq " + seq + " is beyond the head of " + merchantId + " (" + head + ")");
              }
              if (seq + 1 < oldest && oldest > 1) {
                throw new ApiException(
                    410,
                    "expired",
                    "events before seq " + oldest + " of " + merchantId + " are past retention",
                    List.of(Map.of("oldestSeq", oldest)));
              }
              return delivery
                  .setCursor(app.appId(), merchantId, seq, grantVersion.get())
                  // the node that delivers the channel may be another: it starts again at once
                  .compose(
                      v ->
                          changes.publish(
                              io.orderpush.delivery.control.Change.ofGrant(
                                  io.orderpush.delivery.control.Change.Kind.CURSOR_SET,
                                  app.appId(),
                                  merchantId)))
                  .map(
                      v ->
                          new JsonObject()
                              .put("merchantId", merchantId)
                              .put("cursor", seq)
                              .put("headSeq", head));
            })
        .onSuccess(
            body2 ->
                ctx.response().putHeader("Content-Type", "application/json").end(body2.encode()))
        .onFailure(ctx::fail);
  }
}
