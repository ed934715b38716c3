package io.orderpush.gateway.admin;

import io.orderpush.gateway.http.ApiException;
import io.orderpush.gateway.http.JsonDepth;
import io.orderpush.persistence.apps.App;
import io.orderpush.persistence.apps.Grant;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.UUID;

/** JSON mapping of the operator API, kept at the edge. */
public final class AdminJson {

  private AdminJson() {}

  static JsonObject app(App a) {
    JsonObject delivery = new JsonObject().put("mode", a.mode().wireName());
    a.callbackUrl().ifPresent(u -> delivery.put("url", u));
    if (a.callbackUrl().isPresent()) {
      delivery.put("endpointState", a.endpointState());
    }
    return new JsonObject()
        .put("appId", a.appId().toString())
        .put("name", a.name())
        .put("delivery", delivery)
        .put("state", a.state())
        .put("createdAt", a.createdAt().toString());
  }

  static JsonObject grant(Grant g) {
    return new JsonObject()
        .put("appId", g.appId().toString())
        .put("merchantId", g.merchantId())
        .put("scopes", new JsonArray(g.scopes()))
        .put("eventTypes", new JsonArray(g.eventTypes()))
        .put("startSeq", g.startSeq())
        .put("grantedAt", g.grantedAt().toString());
  }

  /** The request body as an object; an absent body reads as {}. */
  public static JsonObject body(RoutingContext ctx) {
    if (ctx.body() == null || ctx.body().buffer() == null || ctx.body().length() <= 0) {
      return new JsonObject();
    }
    JsonDepth.check(ctx.body().buffer());
    try {
      Object v = ctx.body().buffer().toJsonValue();
      if (v instanceof JsonObject o) {
        return o;
      }
    } catch (DecodeException e) {
      throw new ApiException(
          400, "malformed_json", "the body is not valid JSON: " + e.getMessage());
    }
    throw ApiException.badRequest("the body must be a JSON object");
  }

  static UUID appId(RoutingContext ctx) {
    String raw = ctx.pathParam("appId");
    try {
      return UUID.fromString(raw);
    } catch (IllegalArgumentException e) {
      throw new ApiException(404, "not_found", "app " + raw + " does not exist");
    }
  }

  public static void send(RoutingContext ctx, int status, JsonObject body) {
    ctx.response()
        .setStatusCode(status)
        .putHeader("Content-Type", "application/json")
        .end(body.encode());
  }
}
