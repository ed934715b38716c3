package io.orderpush.gateway.config;

/** Bearer tokens of the marketplace and the operators, and the key that seals webhook secrets. */
public record SecurityConfig(String adminToken, String ingestToken, byte[] secretKey) {

  @Override
  public String toString() {
    return "SecurityConfig[<redacted>]";
  }
}
