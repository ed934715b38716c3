package io.orderpush.persistence.audit;

import java.util.UUID;

/**
 * One batch that left the gateway: events {@code fromSeq..toSeq} of a merchant, sent to an app.
 *
 * @param via the WebSocket connection id, the callback endpoint URL, or the replay request id
 * @param deliveredAtMillis when it was sent (a callback: when the POST started)
 * @param masked whether personal data in it was masked
 * @param status a callback's HTTP answer; 0 when there was none (see {@code error}) or for the
 *     other transports
 * @param error a callback that got no answer: what happened; null otherwise
 */
public record AuditRecord(
    UUID appId,
    String merchantId,
    long fromSeq,
    long toSeq,
    Transport transport,
    String via,
    long deliveredAtMillis,
    boolean masked,
    int status,
    String error) {

  /** Errors are stored for the operator, not as a log: long ones are cut. */
  static final int MAX_ERROR_CHARS = 300;

  public AuditRecord {
    if (fromSeq < 1 || toSeq < fromSeq) {
      throw new IllegalArgumentException("bad seq range " + fromSeq + "-" + toSeq);
    }
    if (error != null && error.length() > MAX_ERROR_CHARS) {
      error = error.substring(0, MAX_ERROR_CHARS);
    }
  }

  /** A batch sent without an answer of its own (a WebSocket message, a replay response). */
  public static AuditRecord sent(
      UUID appId,
      String merchantId,
      long fromSeq,
      long toSeq,
      Transport transport,
      String via,
      long deliveredAtMillis,
      boolean masked) {
    return new AuditRecord(
        appId, merchantId, fromSeq, toSeq, transport, via, deliveredAtMillis, masked, 0, null);
  }
}
