package io.orderpush.persistence.apps;

import java.time.Instant;

/** A new app token (shown once) and when the one it replaced stops working. */
public record RotatedToken(String token, Instant previousValidUntil) {

  @Override
  public String toString() {
    return "RotatedToken[token=<redacted>, previousValidUntil=" + previousValidUntil + "]";
  }
}
