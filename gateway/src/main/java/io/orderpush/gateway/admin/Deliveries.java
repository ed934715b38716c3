package io.orderpush.gateway.admin;

import io.orderpush.delivery.Delivery;
import io.orderpush.delivery.callback.CallbackService;
import io.orderpush.delivery.channel.GrantReads;
import io.orderpush.delivery.websocket.StreamService;
import io.orderpush.persistence.apps.App;
import io.orderpush.persistence.apps.Grant;
import io.vertx.core.Future;
import java.util.UUID;

/** Tells both transports about grant changes; each acts only on the apps it serves. */
public record Deliveries(StreamService streams, CallbackService callbacks, Delivery delivery) {

  /** Built from the delivery's own transports. */
  public Deliveries(Delivery delivery) {
    this(delivery.streams(), delivery.callbacks(), delivery);
  }

  /** A cursor set through another node: the channel, if delivered here, starts again from it. */
  Future<Void> cursorSet(UUID appId, String merchantId) {
    return delivery.cursorSetElsewhere(appId, merchantId);
  }

  /**
   * A read of grants whose answer will be told to {@link #granted} or {@link #revoked} starts: its
   * mark, which orders it against the others ({@link GrantReads}). A write through this node's API
   * takes its mark once it has committed, not before: a read that started before the commit may
   * have seen the row as it was. Each mark must reach one of those, or {@link #readFailed}.
   */
  long readStarts() {
    return reads().start();
  }

  /** The read of {@code mark} failed: nothing to apply. */
  void readFailed(long mark) {
    reads().end(mark);
  }

  /** The grant as read at {@code mark}, unless something read later was applied. */
  void granted(Grant grant, long mark) {
    Future.join(streams.granted(grant, mark), callbacks.granted(grant, mark))
        .onComplete(x -> reads().end(mark));
  }

  /** The grant gone as read at {@code mark}, unless something read later was applied. */
  void revoked(UUID appId, String merchantId, long mark) {
    Future.join(
            streams.revoked(appId, merchantId, mark), callbacks.revoked(appId, merchantId, mark))
        .onComplete(x -> reads().end(mark));
  }

  private GrantReads reads() {
    return delivery.grantReads();
  }

  /** An operator's retry now, made on another node: this node's endpoint retries too. */
  Future<Void> retryNow(UUID appId) {
    return callbacks
        .retryNow(appId)
        .<Void>mapEmpty()
        .recover(
            err ->
                err instanceof io.orderpush.persistence.apps.NotFoundException
                        || err instanceof io.orderpush.delivery.callback.EndpointSuspendedException
                    ? Future.succeededFuture()
                    : Future.failedFuture(err));
  }

  /** Frozen ({@code app_frozen}) or deleted ({@code app_deleted}): nothing more leaves here. */
  Future<Void> stopped(UUID appId, String code) {
    return Future.all(streams.appStopped(appId, code), callbacks.appStopped(appId)).mapEmpty();
  }

  /**
   * Active as stored: delivery (re)starts where it is not running, follows the stored state. {@code
   * readAt} is when the read of {@code app} started (System.nanoTime).
   */
  Future<Void> active(App app, long readAt) {
    return Future.all(streams.appActive(app.appId(), readAt), callbacks.appActive(app, readAt))
        .mapEmpty();
  }

  /** The app's channels here brought in line with its stored grants. */
  Future<Void> resync(UUID appId) {
    return Future.all(streams.resync(appId), callbacks.resync(appId)).mapEmpty();
  }
}
