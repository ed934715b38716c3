package io.orderpush.gateway.admin;

import io.orderpush.delivery.control.Change;
import io.orderpush.persistence.apps.AppStore;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.time.Duration;
import java.util.UUID;

/**
 * Operator endpoints for an app's lifecycle: freeze, unfreeze, delete, and app token rotation. Each
 * change is committed in PostgreSQL, applied on this node, then published to the others.
 */
public final class LifecycleApi {

  private final AppStore apps;
  private final Changes changes;
  private final Duration tokenGrace;
  private final AppSweeps sweeps;

  public LifecycleApi(AppStore apps, Changes changes, Duration tokenGrace, AppSweeps sweeps) {
    this.apps = apps;
    this.changes = changes;
    this.tokenGrace = tokenGrace;
    this.sweeps = sweeps;
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
   * and once more by {@link AppSweeps}' chore after every node has surely stopped (a node that had
   * not heard yet may have claimed a channel meanwhile). The audit trail is not touched.
   */
  public void delete(RoutingContext ctx) {
    UUID appId = AdminJson.appId(ctx);
    apps.delete(appId)
        .compose(v -> changes.applyAndPublish(Change.of(Change.Kind.DELETED, appId)))
        .onSuccess(
            v -> {
              ctx.response().setStatusCode(204).end();
              sweeps.sweepNow(appId);
            })
        .onFailure(ctx::fail);
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
            // Applied here too (WebSockets opened with a replaced token close when its grace
            // ends); the new token is answered even if that fails: it is committed, shown once,
            // and the reconcile applies the rotation on every node.
            rotated ->
                changes
                    .applyAndPublish(Change.of(Change.Kind.TOKEN_ROTATED, appId))
                    .otherwiseEmpty()
                    .map(rotated))
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
