package io.orderpush.delivery;

/** Root of the unchecked exceptions thrown by the delivery module. */
public class DeliveryException extends RuntimeException {

  public DeliveryException(String message) {
    super(message);
  }

  public DeliveryException(String message, Throwable cause) {
    super(message, cause);
  }
}
