package io.orderpush.delivery.callback;

import io.orderpush.delivery.DeliveryException;

/** An action that needs a delivering endpoint was asked of a suspended one. */
public final class EndpointSuspendedException extends DeliveryException {

  public EndpointSuspendedException(String message) {
    super(message);
  }
}
