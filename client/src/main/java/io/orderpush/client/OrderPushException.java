package io.orderpush.client;

/** The root of every exception this library throws. */
public class OrderPushException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  public OrderPushException(String message) {
    super(message);
  }

  public OrderPushException(String message, Throwable cause) {
    super(message, cause);
  }
}
