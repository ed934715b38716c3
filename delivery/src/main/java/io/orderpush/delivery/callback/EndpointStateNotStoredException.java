package io.orderpush.delivery.callback;

import io.orderpush.delivery.DeliveryException;

/**
 * An operator's suspend or resume could not be stored in PostgreSQL: nothing changed (the node that
 * answered follows the stored state again; no other node heard of it). The request may be repeated.
 */
public final class EndpointStateNotStoredException extends DeliveryException {

  public EndpointStateNotStoredException(String state, Throwable cause) {
    super(
        "storing the endpoint state "
            + state
            + " failed ("
            + cause.getClass().getSimpleName()
            + "); nothing was changed: repeat the request",
        cause);
  }
}
