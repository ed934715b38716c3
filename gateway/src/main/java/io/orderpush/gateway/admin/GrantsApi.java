package io.orderpush.gateway.admin;

import io.orderpush.delivery.control.Change;
import io.orderpush.gateway.ingest.EventParser;
import io.orderpush.persistence.apps.GrantStore;
import io.orderpush.persistence.events.EventTypes;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Operator endpoints for grants: a merchant grants or revokes an app, with optional scopes. */
public final class GrantsApi {

  static final Set<String> SCOPES = Set.of("pii");

  private final GrantStore grants;
  private final Deliveries deliveries;
  private final Changes changes;
  private final AppSweeps sweeps;

  /**
   * @param sweeps gives a revoked grant's channel its expiry in Redis (past retention, so a new
   *     grant after it can send no event the old one sent: its batch ids count from 0 again)
   */
  public GrantsApi(GrantStore grants, Deliveries deliveries, Changes changes, AppSweeps sweeps) {
    this.grants = grants;
    this.deliveries = deliveries;
    this.changes = changes;
    this.sweeps = sweeps;
  }

  public void put(RoutingContext ctx) {
    String merchantId = merchantId(ctx);
    var appId = AdminJson.appId(ctx);
    JsonObject body = AdminJson.body(ctx);
    List<String> scopes = scopes(body.getValue("scopes"));
    List<String> eventTypes = eventTypes(body.getValue("eventTypes"));
    Object start = body.getValue("start", "latest");
    if (!"latest".equals(start) && !"earliest".equals(start)) {
      throw AppsApi.invalid(
          "start", "must be \"latest\" (only new events) or \"earliest\" (all retained history)");
    }
    grants
        .grant(appId, merchantId, scopes, "earliest".equals(start), eventTypes)
        .onSuccess(
            g -> {
              // marked once committed: a read marked later sees this grant, and one marked
              // before (a resync that may have read the row as it was) cannot undo it
              deliveries.granted(g, deliveries.readStarts());
              changes.publish(Change.ofGrant(Change.Kind.GRANTED, appId, merchantId));
              AdminJson.send(ctx, 200, AdminJson.grant(g));
            })
        .onFailure(ctx::fail);
  }

  public void delete(RoutingContext ctx) {
    String merchantId = merchantId(ctx);
    var appId = AdminJson.appId(ctx);
    grants
        .revoke(appId, merchantId, sweeps.revokedTtl())
        .onSuccess(
            grantedAt -> {
              // marked once committed, as a grant is
              deliveries.revoked(appId, merchantId, deliveries.readStarts());
              changes.publish(Change.ofGrant(Change.Kind.REVOKED, appId, merchantId));
              ctx.response().setStatusCode(204).end();
              // the revoke's row in revoked_channels has the chore do it if this fails
              sweeps.revokedNow(appId, merchantId, grantedAt.toEpochMilli());
            })
        .onFailure(ctx::fail);
  }

  public void listForApp(RoutingContext ctx) {
    int limit = AppsApi.limit(ctx.queryParams().get("limit"));
    String after = ctx.queryParams().get("after");
    if (after != null && !EventParser.MERCHANT_ID.matcher(after).matches()) {
      throw AppsApi.invalid("after", "must be a merchantId from a previous page");
    }
    java.util.UUID appId = AdminJson.appId(ctx);
    grants
        .forApp(appId, limit, after == null ? "" : after)
        .compose(
            page ->
                !page.isEmpty()
                    ? io.vertx.core.Future.succeededFuture(page)
                    : grants
                        .appExists(appId)
                        .map(
                            exists -> {
                              if (!exists) {
                                throw new io.orderpush.persistence.apps.NotFoundException(
                                    "app " + appId + " does not exist");
                              }
                              return page;
                            }))
        .onSuccess(
            page -> {
              JsonArray items = new JsonArray();
              page.forEach(g -> items.add(AdminJson.grant(g)));
              Object next = page.size() == limit ? page.get(page.size() - 1).merchantId() : null;
              AdminJson.send(ctx, 200, new JsonObject().put("grants", items).put("next", next));
            })
        .onFailure(ctx::fail);
  }

  private static String merchantId(RoutingContext ctx) {
    String m = ctx.pathParam("merchantId");
    if (m == null || !EventParser.MERCHANT_ID.matcher(m).matches()) {
      throw AppsApi.invalid("merchantId", "must match " + EventParser.MERCHANT_ID.pattern());
    }
    if (m.startsWith(EventParser.SANDBOX_PREFIX)) {
      // granted only by the drill that made them, to the app it names (see docs/drills.md)
      throw AppsApi.invalid(
          "merchantId", "sandbox merchants belong to drills; grants for them are not editable");
    }
    return m;
  }

  /**
   * The subscription: an array of event types ({@code order.paid}) and prefixes ({@code
   * order.refund*}), at most {@link EventTypes#MAX_PATTERNS}; absent, null or empty: every type.
   * Repeats are dropped.
   */
  static List<String> eventTypes(Object value) {
    if (value == null) {
      return List.of();
    }
    String expected =
        "must be an array of at most "
            + EventTypes.MAX_PATTERNS
            + " event types (1 to 64 of [A-Za-z0-9._-]), each optionally ending in * to match"
            + " any suffix";
    if (!(value instanceof JsonArray array)) {
      throw AppsApi.invalid("eventTypes", expected);
    }
    List<String> patterns = new ArrayList<>(array.size());
    for (Object t : array) {
      if (!(t instanceof String type)) {
        throw AppsApi.invalid("eventTypes", expected);
      }
      patterns.add(type);
    }
    try {
      return EventTypes.of(patterns).patterns();
    } catch (IllegalArgumentException e) {
      throw AppsApi.invalid("eventTypes", expected + ": " + e.getMessage());
    }
  }

  private static List<String> scopes(Object value) {
    if (value == null) {
      return List.of();
    }
    // repeats are allowed (and dropped below); the bound only keeps the loop short
    if (!(value instanceof JsonArray array) || array.size() > 16 * SCOPES.size()) {
      throw AppsApi.invalid("scopes", "must be an array drawn from " + SCOPES);
    }
    List<String> out = new ArrayList<>();
    for (Object s : array) {
      if (!(s instanceof String scope) || !SCOPES.contains(scope)) {
        throw AppsApi.invalid("scopes", "must be an array drawn from " + SCOPES);
      }
      if (!out.contains(scope)) {
        out.add(scope);
      }
    }
    return out;
  }
}
