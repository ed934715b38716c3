package io.orderpush.delivery.callback;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Standard Webhooks v1 signatures: {@code v1,} + base64(HMAC-SHA256(key, id.timestamp.body)) with
 * key the base64-decoded part of a {@code whsec_} secret; several secrets (during rotation) give
 * several space-separated signatures.
 */
public final class WebhookSigner {

  private WebhookSigner() {}

  public static String sign(List<String> secrets, String id, long timestampSeconds, byte[] body) {
    StringBuilder header = new StringBuilder();
    for (String secret : secrets) {
      if (!header.isEmpty()) {
        header.append(' ');
      }
      header.append("v1,").append(signature(secret, id, timestampSeconds, body));
    }
    return header.toString();
  }

  static String signature(String secret, String id, long timestampSeconds, byte[] body) {
    String encoded = secret.startsWith("whsec_") ? secret.substring(6) : secret;
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(Base64.getDecoder().decode(encoded), "HmacSHA256"));
      mac.update((id + "." + timestampSeconds + ".").getBytes(StandardCharsets.UTF_8));
      return Base64.getEncoder().encodeToString(mac.doFinal(body));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 unavailable", e);
    }
  }
}
