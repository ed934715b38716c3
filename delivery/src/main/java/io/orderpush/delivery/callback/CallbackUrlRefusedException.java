package io.orderpush.delivery.callback;

import io.orderpush.delivery.DeliveryException;

/**
 * A callback URL that is not one (malformed), or whose host is, or resolves to, an address
 * callbacks must not reach, or does not resolve.
 */
public final class CallbackUrlRefusedException extends DeliveryException {

  private final boolean malformed;

  public CallbackUrlRefusedException(String message) {
    this(message, false, null);
  }

  private CallbackUrlRefusedException(String message, boolean malformed, Throwable cause) {
    super(message, cause);
    this.malformed = malformed;
  }

  static CallbackUrlRefusedException malformed(String message) {
    return new CallbackUrlRefusedException(message, true, null);
  }

  /** Refused for a reason found while checking the host; {@code cause} is never an answer. */
  static CallbackUrlRefusedException because(String message, Throwable cause) {
    return new CallbackUrlRefusedException(message, false, cause);
  }

  /** The text is not a valid callback URL at all, as opposed to naming a host that is refused. */
  public boolean malformed() {
    return malformed;
  }
}
