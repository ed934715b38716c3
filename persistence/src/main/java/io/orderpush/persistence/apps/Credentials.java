package io.orderpush.persistence.apps;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;

/** Generates app tokens and webhook secrets, and hashes tokens for storage and lookup. */
public final class Credentials {

  /** App tokens carry 256 random bits, so a plain SHA-256 is a safe stored form. */
  public static final String TOKEN_PREFIX = "gwa_";

  /** Standard Webhooks secrets: {@code whsec_} + base64 of the signing key. */
  public static final String SECRET_PREFIX = "whsec_";

  private static final SecureRandom RANDOM = new SecureRandom();

  private Credentials() {}

  public static String newToken() {
    return TOKEN_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(randomBytes(32));
  }

  public static String newWebhookSecret() {
    return SECRET_PREFIX + Base64.getEncoder().encodeToString(randomBytes(32));
  }

  public static byte[] hashToken(String token) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  private static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }
}
