package io.orderpush.client;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies a callback's Standard Webhooks v1 signature (docs/callbacks.md): {@code
 * webhook-signature} holds one or more space-separated {@code v1,<base64>} of HMAC-SHA256(key, id +
 * "." + timestamp + "." + body), and {@code webhook-timestamp} must be within the tolerance of this
 * machine's clock (replayed requests are refused). Give it every secret in use: during a rotation
 * the gateway signs with both and either verifies. Immutable and thread-safe.
 */
public final class WebhookVerifier {

  /** How far {@code webhook-timestamp} may be from now, unless told otherwise. */
  public static final Duration DEFAULT_TOLERANCE = Duration.ofMinutes(5);

  private static final String PREFIX = "whsec_";
  private static final int MAX_SIGNATURES = 16;

  private final List<SecretKeySpec> keys;
  private final Duration tolerance;
  private final Clock clock;

  /**
   * @param secrets the app's {@code whsec_...} secrets (one, or two during a rotation)
   */
  public WebhookVerifier(String... secrets) {
    this(List.of(secrets), DEFAULT_TOLERANCE, Clock.systemUTC());
  }

  public WebhookVerifier(List<String> secrets, Duration tolerance, Clock clock) {
    if (secrets.isEmpty()) {
      throw new IllegalArgumentException("at least one webhook secret is needed");
    }
    if (tolerance.isNegative()) {
      throw new IllegalArgumentException("tolerance must not be negative: " + tolerance);
    }
    List<SecretKeySpec> out = new ArrayList<>();
    for (String s : secrets) {
      String b64 = s.startsWith(PREFIX) ? s.substring(PREFIX.length()) : s;
      try {
        out.add(new SecretKeySpec(Base64.getDecoder().decode(b64), "HmacSHA256"));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("a webhook secret is not whsec_ + base64", e);
      }
    }
    this.keys = List.copyOf(out);
    this.tolerance = tolerance;
    this.clock = clock;
  }

  /**
   * Verifies the request; headers by name, in any case, with a {@code String} or a list of strings
   * as the value (the first counts).
   *
   * @throws WebhookVerificationException if a header is missing, the timestamp is outside the
   *     tolerance, or no signature matches
   */
  public void verify(byte[] body, Map<String, ?> headers) {
    verify(body, name -> header(headers, name));
  }

  /** Verifies the request, reading each header through {@code header} (null when absent). */
  public void verify(byte[] body, Function<String, String> header) {
    String id = header.apply("webhook-id");
    String ts = header.apply("webhook-timestamp");
    String sigs = header.apply("webhook-signature");
    if (id == null || ts == null || sigs == null) {
      throw new WebhookVerificationException(
          "missing header: webhook-id, webhook-timestamp and webhook-signature are all needed");
    }
    long seconds;
    try {
      seconds = Long.parseLong(ts.trim());
    } catch (NumberFormatException e) {
      throw new WebhookVerificationException("webhook-timestamp is not a number: " + ts);
    }
    long skew = Math.abs(clock.instant().getEpochSecond() - seconds);
    if (skew > tolerance.toSeconds()) {
      throw new WebhookVerificationException(
          "webhook-timestamp "
              + seconds
              + " is "
              + skew
              + " s from now, more than the tolerance of "
              + tolerance.toSeconds()
              + " s");
    }
    byte[] signed = (id + "." + seconds + ".").getBytes(StandardCharsets.UTF_8);
    List<byte[]> expected = new ArrayList<>(keys.size());
    for (SecretKeySpec key : keys) {
      expected.add(hmac(key, signed, body));
    }
    String[] parts = sigs.trim().split(" +");
    for (int i = 0; i < Math.min(parts.length, MAX_SIGNATURES); i++) {
      if (!parts[i].startsWith("v1,")) {
        continue;
      }
      byte[] given;
      try {
        given = Base64.getDecoder().decode(parts[i].substring(3));
      } catch (IllegalArgumentException e) {
        continue;
      }
      for (byte[] e : expected) {
        if (MessageDigest.isEqual(e, given)) {
          return;
        }
      }
    }
    throw new WebhookVerificationException("no valid v1 signature for " + id);
  }

  private static byte[] hmac(SecretKeySpec key, byte[] prefix, byte[] body) {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(key);
      mac.update(prefix);
      return mac.doFinal(body);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }

  static String header(Map<String, ?> headers, String name) {
    Object v = headers.get(name);
    if (v == null) {
      for (Map.Entry<String, ?> e : headers.entrySet()) {
        if (e.getKey() != null && e.getKey().toLowerCase(Locale.ROOT).equals(name)) {
          v = e.getValue();
          break;
        }
      }
    }
    if (v instanceof Iterable<?> values) {
      var it = values.iterator();
      v = it.hasNext() ? it.next() : null;
    }
    return v == null ? null : v.toString();
  }
}
