package io.orderpush.persistence.apps;

import java.security.MessageDigest;
import java.time.Instant;
import java.util.Optional;

/**
 * The hashes of an app's tokens as stored: the current one, and the one it replaced while that
 * rotation's grace period lasts. Tells until when a connection opened with a given token may stay.
 *
 * @param current SHA-256 of the current token
 * @param previous SHA-256 of the token the last rotation replaced, empty if none or its grace is
 *     over
 * @param previousValidUntil the end of that grace period (only with {@code previous})
 */
public record AppTokens(byte[] current, Optional<byte[]> previous, Instant previousValidUntil) {

  /**
   * Until when a connection authenticated with the token hashed as {@code tokenHash} may stay open:
   * {@link Instant#MAX} for the current token, the grace period's end for the previous one, and
   * {@link Instant#MIN} for any other (a token rotated out twice, or never the app's).
   */
  public Instant validUntil(byte[] tokenHash) {
    if (MessageDigest.isEqual(current, tokenHash)) {
      return Instant.MAX;
    }
    if (previous.isPresent() && MessageDigest.isEqual(previous.get(), tokenHash)) {
      return previousValidUntil;
    }
    return Instant.MIN;
  }
}
