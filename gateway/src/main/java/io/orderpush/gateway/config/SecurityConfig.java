package io.orderpush.gateway.config;

import java.util.List;

/**
 * Bearer tokens of the marketplace and the operators, the key that seals webhook secrets, and old
 * keys that only open secrets sealed before a key rotation.
 */
public record SecurityConfig(
    String adminToken, String ingestToken, byte[] secretKey, List<byte[]> oldSecretKeys) {

  @Override
  public String toString() {
    return "SecurityConfig[<redacted>]";
  }
}
