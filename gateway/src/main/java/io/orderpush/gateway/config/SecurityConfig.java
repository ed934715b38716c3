package io.orderpush.gateway.config;

import java.util.List;

/**
 * Bearer tokens of the marketplace and the operators, the key that seals webhook secrets, and old
 * keys that only open secrets sealed before a key rotation.
 *
 * @param oldSecretKeys old keys given in {@code secret.keys-old}: they open secrets sealed before a
 *     key rotation, and the nodes' commit feed accepts signatures under them during a rotation
 * @param keyDerived no {@code secret.key} was given: {@code secretKey} is derived from the admin
 *     token (the gateway warns at start)
 * @param shortTokens the admin or ingest token is shorter than {@link #ADVISED_TOKEN_LENGTH} (the
 *     gateway warns at start)
 */
public record SecurityConfig(
    String adminToken,
    String ingestToken,
    byte[] secretKey,
    List<byte[]> oldSecretKeys,
    boolean keyDerived,
    boolean shortTokens) {

  /** Tokens shorter than this are accepted with a warning: guessing them must stay hopeless. */
  public static final int ADVISED_TOKEN_LENGTH = 24;

  private static final String DERIVATION = "orderpush secret.key from admin.token v1";

  /**
   * The webhook-secret key of a gateway given no {@code secret.key}: HKDF-SHA256 (RFC 5869) of the
   * admin token, which every node of a cluster shares, so every node and restart derive the same
   * key. Changing the admin token changes it: set a key of its own for production.
   */
  public static byte[] deriveKey(String adminToken) {
    try {
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
      mac.init(
          new javax.crypto.spec.SecretKeySpec(
              DERIVATION.getBytes(java.nio.charset.StandardCharsets.UTF_8), "HmacSHA256"));
      byte[] prk = mac.doFinal(adminToken.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      mac.init(new javax.crypto.spec.SecretKeySpec(prk, "HmacSHA256"));
      mac.update("secret.key".getBytes(java.nio.charset.StandardCharsets.UTF_8));
      mac.update((byte) 1);
      return mac.doFinal(); // 32 bytes: one block
    } catch (java.security.GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is not available", e);
    }
  }

  /**
   * The keys that open stored webhook secrets besides {@code secretKey}: the old ones and, when the
   * gateway has a key of its own, the one derived from the admin token, so that what a gateway
   * without a key sealed can still be opened (and resealed). Only for secrets: the derived key is
   * computable from the admin token, so nothing else (the commit feed) may accept it.
   */
  public List<byte[]> secretOpeningKeys() {
    if (keyDerived || adminToken.isEmpty()) {
      return oldSecretKeys;
    }
    List<byte[]> keys = new java.util.ArrayList<>(oldSecretKeys);
    keys.add(deriveKey(adminToken));
    return List.copyOf(keys);
  }

  @Override
  public String toString() {
    return "SecurityConfig[<redacted>]";
  }
}
