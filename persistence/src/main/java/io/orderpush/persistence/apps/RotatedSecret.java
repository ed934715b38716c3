package io.orderpush.persistence.apps;

import java.time.Instant;

/**
 * A new webhook secret (shown once) and when the one it replaced stops signing, by the database's
 * clock: the same instant every node reads back.
 */
public record RotatedSecret(String secret, Instant previousValidUntil) {

  @Override
  public String toString() {
    return "RotatedSecret[secret=<redacted>, previousValidUntil=" + previousValidUntil + "]";
  }
}
