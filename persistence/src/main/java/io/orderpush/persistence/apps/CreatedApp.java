package io.orderpush.persistence.apps;

/**
 * A new app with the only copy of its credentials the gateway will ever hand out: the token is
 * stored as a hash and the webhook secret encrypted.
 */
public record CreatedApp(App app, String token, String webhookSecret) {

  @Override
  public String toString() {
    return "CreatedApp[" + app + ", token=<redacted>, webhookSecret=<redacted>]";
  }
}
