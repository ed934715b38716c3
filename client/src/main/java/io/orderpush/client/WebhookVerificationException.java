package io.orderpush.client;

/** A callback request whose Standard Webhooks signature does not hold: answer it 401. */
public final class WebhookVerificationException extends OrderPushException {

  private static final long serialVersionUID = 1L;

  public WebhookVerificationException(String message) {
    super(message);
  }
}
