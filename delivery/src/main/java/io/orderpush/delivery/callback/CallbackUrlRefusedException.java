package io.orderpush.delivery.callback;

import io.orderpush.delivery.DeliveryException;

/** A callback URL whose host is, or resolves to, an address callbacks must not reach. */
public final class CallbackUrlRefusedException extends DeliveryException {

  private final boolean unresolved;

  public CallbackUrlRefusedException(String message) {
    this(message, false);
  }

  CallbackUrlRefusedException(String message, boolean unresolved) {
    super(message);
    this.unresolved = unresolved;
  }

  /** The host did not resolve (now): nothing is known to be wrong with it yet. */
  public boolean unresolved() {
    return unresolved;
  }
}
