package io.orderpush.gateway.admin;

import io.orderpush.delivery.Delivery;
import io.orderpush.delivery.control.Change;
import io.orderpush.persistence.apps.AppStore;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operator endpoints for an app's lifecycle: freeze, unfreeze, delete, and app token rotation. Each
 * change is committed in PostgreSQL, applied on this node, then published to the others.
 */
public final class LifecycleApi {

  private static final Logger LOG = LoggerFactory.getLogger(LifecycleApi.class);

  private final Vertx vertx;
  private final AppStore apps;
  private final Delivery delivery;
  private final Changes changes;
  private final Duration tokenGrace;

  /** How long after a delete the cursor hashes are swept again (after every node stopped). */
  private final Duration sweepAgainAfter;

  public LifecycleApi(
      Vertx vertx,
      AppStore apps,
      Delivery delivery,
      Changes changes,
      Duration tokenGrace,
      Duration reconcileInterval) {
    this.vertx = vertx;
    this.apps = apps;
    this.delivery = delivery;
    this.changes = changes;
    this.tokenGrace = tokenGrace;
    this.sweepAgainAfter = reconcileInterval.multipliedBy(3).plusSeconds(1);
  }

  /** {@code POST /v1/apps/{appId}/freeze}: 200 with the app, now {@code frozen}. */
  public void freeze(RoutingContext ctx) {
    setState(ctx, "frozen", Change.Kind.FROZEN);
  }

  /** {@code POST /v1/apps/{appId}/unfreeze}: 200 with the app, {@code active} again. */
  public void unfreeze(RoutingContext ctx) {
    setState(ctx, "active", Change.Kind.UNFROZEN);
  }

  private void setState(RoutingContext ctx, String state, Change.Kind kind) {
    UUID appId = AdminJson.appId(ctx);
    apps.setState(appId, state)
        .compose(app -> changes.applyAndPublish(Change.of(kind, appId)).map(app))
        .onSuccess(app -> AdminJson.send(ctx, 200, AdminJson.app(app)))
        .onFailure(ctx::fail);
  }

  /**
   * {@code DELETE /v1/apps/{appId}}: 204. The token and secrets die with the commit (every node
   * looks tokens up in PostgreSQL); grants and checkpoints cascade; delivery stops on this node at
   * once and on the others with the notice; then the app's cursor hashes are removed from Redis,
   * and once more after every node has surely stopped (a node that had not heard yet may have
   * claimed a channel meanwhile). The audit trail is not touched.
   */
  public void delete(RoutingContext ctx) {
    UUID appId = AdminJson.appId(ctx);
    apps.delete(appId)
        .compose(v -> changes.applyAndPublish(Change.of(Change.Kind.DELETED, appId)))
        .onSuccess(
            v -> {
              ctx.response().setStatusCode(204).end();
              sweep(appId)
                  .onComplete(ar -> vertx.setTimer(sweepAgainAfter.toMillis(), t -> sweep(appId)));
            })
        .onFailure(ctx::fail);
  }

  private io.vertx.core.Future<Long> sweep(UUID appId) {
    return delivery
        .forgetApp(appId)
        .onSuccess(
            n -> {
              if (n > 0) {
                LOG.info("removed {} cursor(s) of deleted app {} from Redis", n, appId);
              }
            })
        .onFailure(
            err ->
                LOG.warn(
                    "could not remove the cursors of deleted app {} from Redis (they are never"
                        + " read again; delete keys gw:ch:{{}:*} by hand to reclaim them): {}",
                    appId,
                    appId,
                    err.toString()));
  }

  /**
   * {@code POST /v1/apps/{appId}/token/rotate}: {@code
   * {"appId","token","previousTokenValidUntil"}}; the new token is shown this once, the old one
   * works until then.
   */
  public void rotateToken(RoutingContext ctx) {
    UUID appId = AdminJson.appId(ctx);
    apps.rotateToken(appId, tokenGrace)
        .compose(
            rotated -> changes.publish(Change.of(Change.Kind.TOKEN_ROTATED, appId)).map(rotated))
        .onSuccess(
            rotated ->
                AdminJson.send(
                    ctx,
                    200,
                    new JsonObject()
                        .put("appId", appId.toString())
                        .put("token", rotated.token())
                        .put("previousTokenValidUntil", rotated.previousValidUntil().toString())))
        .onFailure(ctx::fail);
  }
}
