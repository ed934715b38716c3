package io.orderpush.delivery.control;

import io.vertx.core.Future;

/**
 * How app and grant changes reach every gateway node sharing the PostgreSQL and Redis. A node that
 * makes a change applies it itself and {@link #publish}es it; every other node hears it through
 * {@link #onChange}. Notices can be lost (pub/sub keeps nothing for a node that is not listening),
 * so the bus also compares every app's control version in PostgreSQL periodically and reports an
 * app whose version moved as {@link Change.Kind#RESYNC}: a lost notice costs seconds, not
 * correctness.
 */
public interface ChangeBus {

  /**
   * Tells every other node. Completes once Redis took the notice; a failure is only logged by
   * callers, since the periodic reconcile carries the change anyway.
   */
  Future<Void> publish(Change change);

  /**
   * Registers a listener for changes made on other nodes (and found by the reconcile). Listeners
   * run on the bus's event-loop context and must not block; a failed future makes the reconcile
   * report the app again on its next round.
   */
  void onChange(ChangeListener listener);

  /** Receives changes; see {@link ChangeBus#onChange}. */
  @FunctionalInterface
  interface ChangeListener {
    Future<Void> changed(Change change);
  }
}
