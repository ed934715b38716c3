package io.orderpush.gateway.admin;

import io.orderpush.delivery.lag.LagQuery;
import io.orderpush.gateway.http.ApiException;
import io.orderpush.gateway.ingest.EventParser;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;
import java.util.UUID;

/**
 * {@code GET /v1/lag} and {@code GET /v1/apps/{appId}/impact}: how far behind channels are and what
 * a failing app holds up, from stored heads and cursors (the same on every node).
 */
public final class LagApi {

  static final int MAX_LIMIT = 1000;

  private final LagQuery query;

  public LagApi(LagQuery query) {
    this.query = query;
  }

  public void lag(RoutingContext ctx) {
    Optional<UUID> appId = Optional.ofNullable(ctx.queryParams().get("appId")).map(LagApi::uuid);
    Optional<String> merchantId = Optional.ofNullable(ctx.queryParams().get("merchantId"));
    merchantId.ifPresent(
        m -> {
          if (!EventParser.MERCHANT_ID.matcher(m).matches()) {
            throw ApiException.badRequest(
                "merchantId must match " + EventParser.MERCHANT_ID.pattern());
          }
        });
    long minLag = number(ctx, "minLag", 0, 0, Long.MAX_VALUE);
    int limit = (int) number(ctx, "limit", 100, 1, MAX_LIMIT);
    Optional<LagQuery.After> after =
        Optional.ofNullable(ctx.queryParams().get("after")).map(LagApi::decode);
    query
        .lag(appId, merchantId, minLag, limit, after)
        .onSuccess(
            page -> {
              JsonArray items = new JsonArray();
              page.items().forEach(i -> items.add(json(i)));
              AdminJson.send(
                  ctx,
                  200,
                  new JsonObject()
                      .put("items", items)
                      .put("next", page.next().map(LagApi::encode).orElse(null)));
            })
        .onFailure(ctx::fail);
  }

  public void impact(RoutingContext ctx) {
    UUID appId = AdminJson.appId(ctx);
    query
        .impact(appId)
        .onSuccess(
            impact -> {
              if (impact.isEmpty()) {
                ctx.fail(new ApiException(404, "not_found", "app " + appId + " does not exist"));
                return;
              }
              LagQuery.Impact i = impact.get();
              AdminJson.send(
                  ctx,
                  200,
                  new JsonObject()
                      .put("appId", appId.toString())
                      .put("merchantsBehind", i.merchantsBehind())
                      .put("pendingEvents", i.pendingEvents())
                      .put("pendingOrders", i.pendingOrders())
                      .put("pendingOrdersExact", i.pendingOrdersExact())
                      .put(
                          "oldestPendingAt", i.oldestPendingAt().map(Object::toString).orElse(null))
                      .put("endpointState", i.endpointState()));
            })
        .onFailure(ctx::fail);
  }

  static JsonObject json(LagQuery.Item i) {
    return new JsonObject()
        .put("appId", i.appId().toString())
        .put("merchantId", i.merchantId())
        .put("headSeq", i.headSeq())
        .put("cursor", i.cursor())
        .put("lag", i.lag())
        .put("oldestPendingAt", i.oldestPendingAt().map(Object::toString).orElse(null))
        .put("state", i.state());
  }

  private static UUID uuid(String raw) {
    try {
      return UUID.fromString(raw);
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest("appId must be an app id (a UUID)");
    }
  }

  private static long number(RoutingContext ctx, String name, long dflt, long min, long max) {
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

  static String encode(LagQuery.After a) {
    String raw = a.rank() + "|" + a.appId() + "|" + a.merchantId();
    return Base64.getUrlEncoder()
        .withoutPadding()
        .encodeToString(raw.getBytes(StandardCharsets.UTF_8));
  }

  static LagQuery.After decode(String token) {
    try {
      String[] parts =
          new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8).split("\\|", 3);
      if (parts.length == 3 && EventParser.MERCHANT_ID.matcher(parts[2]).matches()) {
        long rank = Long.parseLong(parts[0]);
        if (rank >= 0) {
          return new LagQuery.After(rank, UUID.fromString(parts[1]), parts[2]);
        }
      }
    } catch (IllegalArgumentException e) {
      // reported below (NumberFormatException is one)
    }
    throw ApiException.badRequest("after must be the next token of a previous page");
  }
}
