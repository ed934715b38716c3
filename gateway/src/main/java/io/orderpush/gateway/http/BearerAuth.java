package io.orderpush.gateway.http;

import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.PlatformHandler;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Checks a fixed bearer token in constant time (over digests, so the length does not leak either).
 * A platform handler, so it runs before the body handler and an unauthenticated caller cannot make
 * the gateway buffer a request body.
 */
public final class BearerAuth implements PlatformHandler {

  private final byte[] expected;
  private final String realm;
  private final AuthFailureLimiter limiter;

  public BearerAuth(String token, String realm) {
    this(token, realm, AuthFailureLimiter.NONE);
  }

  /** Failures count against the caller's address in {@code limiter}; past its limit, 429. */
  public BearerAuth(String token, String realm, AuthFailureLimiter limiter) {
    this.expected = digest(token);
    this.realm = realm;
    this.limiter = limiter;
  }

  @Override
  public void handle(RoutingContext ctx) {
    if (limiter.refuse(ctx, realm)) {
      return;
    }
    String presented = bearer(ctx.request().getHeader("Authorization"));
    if (presented != null && MessageDigest.isEqual(expected, digest(presented))) {
      ctx.next();
      return;
    }
    limiter.failed(ctx.request().remoteAddress(), realm);
    ctx.response().putHeader("WWW-Authenticate", "Bearer realm=\"" + realm + "\"");
    Failures.send(ctx, 401, "unauthorized", "missing or wrong bearer token for " + realm, null);
  }

  /** The token of an {@code Authorization: Bearer ...} header, or null. */
  public static String bearer(String header) {
    if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    String token = header.substring(7).trim();
    return token.isEmpty() ? null : token;
  }

  private static byte[] digest(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
