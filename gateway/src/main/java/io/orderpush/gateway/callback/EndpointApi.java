package io.orderpush.gateway.callback;

import io.orderpush.delivery.callback.CallbackService;
import io.orderpush.delivery.callback.EndpointView;
import io.orderpush.delivery.control.Change;
import io.orderpush.delivery.control.ChangeBus;
import io.vertx.core.Future;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import java.util.UUID;
import java.util.function.Function;

/** Operator view of a callback endpoint, and suspend / resume. */
public final class EndpointApi {

  private final CallbackService callbacks;
  private final ChangeBus bus;

  public EndpointApi(CallbackService callbacks, ChangeBus bus) {
    this.callbacks = callbacks;
    this.bus = bus;
  }

  public void view(RoutingContext ctx) {
    answer(ctx, callbacks::view);
  }

  /**
   * Suspends here and, once the state is stored (at once, or by a retry after a 503), tells the
   * other nodes.
   */
  public void suspend(RoutingContext ctx) {
    answer(
        ctx,
        appId ->
            callbacks.suspend(
                appId, () -> bus.publish(Change.of(Change.Kind.ENDPOINT_SUSPENDED, appId))));
  }

  public void resume(RoutingContext ctx) {
    answer(
        ctx,
        appId ->
            callbacks.resume(
                appId, () -> bus.publish(Change.of(Change.Kind.ENDPOINT_RESUMED, appId))));
  }

  /** Sends the waiting batches now, backoff reset, here and (by notice) on the other nodes. */
  public void retry(RoutingContext ctx) {
    answer(
        ctx,
        appId ->
            callbacks.retryNow(appId).andThen(ar -> told(ar, Change.Kind.ENDPOINT_RETRY, appId)));
  }

  private void told(io.vertx.core.AsyncResult<?> ar, Change.Kind kind, UUID appId) {
    if (ar.succeeded()) {
      bus.publish(Change.of(kind, appId));
    }
  }

  private static void answer(RoutingContext ctx, Function<UUID, Future<EndpointView>> op) {
    UUID appId;
    try {
      appId = UUID.fromString(ctx.pathParam("appId"));
    } catch (IllegalArgumentException e) {
      io.orderpush.gateway.http.Failures.send(
          ctx, 404, "not_found", "app " + ctx.pathParam("appId") + " does not exist", null);
      return;
    }
    op.apply(appId)
        .onSuccess(
            v ->
                ctx.response()
                    .putHeader("Content-Type", "application/json")
                    .end(json(appId, v).encode()))
        .onFailure(ctx::fail);
  }

  static JsonObject json(UUID appId, EndpointView v) {
    return new JsonObject()
        .put("appId", appId.toString())
        .put("state", v.state())
        .put("lastError", v.lastError().orElse(null))
        .put("consecutiveFailures", v.consecutiveFailures())
        .put("nextAttemptAt", v.nextAttemptAt().map(Object::toString).orElse(null))
        .put("lastSuccessAt", v.lastSuccessAt().map(Object::toString).orElse(null))
        .put("channels", v.channels())
        .put("channelsWaiting", v.channelsWaiting())
        .put("loading", v.loading().wire());
  }
}
