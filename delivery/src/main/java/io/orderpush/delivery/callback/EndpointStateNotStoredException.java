package io.orderpush.delivery.callback;

import io.orderpush.delivery.DeliveryException;

/**
 * An operator's suspend or resume took effect on this node, but its first write to PostgreSQL
 * failed: the other nodes do not follow it and a restart would forget it until a retry stores it
 * (retried in the background). The operator's request may be repeated.
 */
public final class EndpointStateNotStoredException extends DeliveryException {

  public EndpointStateNotStoredException(String state, Throwable cause) {
    super(
        "the endpoint is "
            + state
            + " on this node, but storing it failed ("
            + cause.getClass().getSimpleName()
            + "); it is retried in the background, and the request may be repeated",
        cause);
  }
}
