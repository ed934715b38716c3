package io.orderpush.gateway.admin;

import io.orderpush.delivery.control.Change;
import io.orderpush.delivery.control.ChangeBus;
import io.vertx.core.Future;

/**
 * What the operator API does after a change is committed: apply it on this node, then tell the
 * other nodes. Publishing never fails the request; the change is committed, and the reconcile
 * carries it to the nodes the notice misses.
 */
public record Changes(ChangeApplier applier, ChangeBus bus) {

  /**
   * Applies here, then publishes (also if applying here failed); completes when both are done, so
   * an operator who has the answer knows the other nodes have been told.
   */
  public Future<Void> applyAndPublish(Change change) {
    Future<Void> applied = applier.changed(change);
    return applied.transform(ar -> publish(change)).transform(v -> applied);
  }

  /** Publishes only (the caller applied the change here itself). Never fails. */
  public Future<Void> publish(Change change) {
    return bus.publish(change).otherwiseEmpty();
  }
}
