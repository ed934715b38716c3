package io.orderpush.gateway.admin;

import io.orderpush.delivery.control.Change;
import io.orderpush.delivery.control.ChangeBus;
import io.orderpush.delivery.websocket.StreamService;
import io.orderpush.persistence.apps.App;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.GrantStore;
import io.vertx.core.Future;
import java.util.Optional;
import java.util.UUID;

/**
 * Applies an app or grant change on this node, whether this node made it, heard of it from another
 * or found it in the reconcile: it reads the current state from PostgreSQL and brings the
 * deliveries here in line with it, so a repeated, late or reordered change is harmless.
 *
 * <p>App tokens are looked up in PostgreSQL on every request and upgrade (no cache on any node), so
 * a rotation or a delete is in force for new requests everywhere with its commit; open WebSockets
 * follow here, with the notice or the reconcile: those of a deleted app are closed, and those
 * opened with a token a rotation replaced are closed when its grace period ends.
 */
public final class ChangeApplier implements ChangeBus.ChangeListener {

  private final AppStore apps;
  private final GrantStore grants;
  private final Deliveries deliveries;

  public ChangeApplier(AppStore apps, GrantStore grants, Deliveries deliveries) {
    this.apps = apps;
    this.grants = grants;
    this.deliveries = deliveries;
  }

  @Override
  public Future<Void> changed(Change change) {
    UUID appId = change.appId();
    return switch (change.kind()) {
      case GRANTED, REVOKED ->
          change.merchantId().isPresent()
              ? grant(appId, change.merchantId().get())
              : app(appId, true);
      case TOKEN_ROTATED -> tokens(appId);
      case ENDPOINT_RETRY -> deliveries.retryNow(appId);
      case CURSOR_SET ->
          change.merchantId().isPresent()
              ? deliveries.cursorSet(appId, change.merchantId().get())
              : Future.succeededFuture();
      // the tokens apart: a resync reading every grant of a big app must not hold them up
      case RESYNC -> Future.join(app(appId, true), tokens(appId)).mapEmpty();
      default -> app(appId, false);
    };
  }

  private Future<Void> app(UUID appId, boolean grantsToo) {
    long readAt = System.nanoTime(); // before the read: what it returns is at least this recent
    return apps.find(appId).compose(app -> apply(appId, app, readAt, grantsToo));
  }

  private Future<Void> apply(UUID appId, Optional<App> app, long readAt, boolean grantsToo) {
    if (app.isEmpty()) {
      return deliveries.stopped(appId, StreamService.APP_DELETED);
    }
    if (!"active".equals(app.get().state())) {
      return deliveries.stopped(appId, StreamService.APP_FROZEN);
    }
    Future<Void> active = deliveries.active(app.get(), readAt);
    return grantsToo ? active.compose(v -> deliveries.resync(appId)) : active;
  }

  /** The app's WebSockets here follow its tokens as stored (after a rotation). */
  private Future<Void> tokens(UUID appId) {
    long readAt = System.nanoTime();
    return apps.tokens(appId)
        .compose(
            stored ->
                stored.isEmpty()
                    ? Future.succeededFuture()
                    : deliveries.streams().tokensRotated(appId, stored.get(), readAt));
  }

  private Future<Void> grant(UUID appId, String merchantId) {
    long mark = deliveries.readStarts();
    return grants
        .find(appId, merchantId)
        .onFailure(err -> deliveries.readFailed(mark))
        .map(
            g -> {
              if (g.isPresent()) {
                deliveries.granted(g.get(), mark);
              } else {
                deliveries.revoked(appId, merchantId, mark);
              }
              return null;
            });
  }
}
