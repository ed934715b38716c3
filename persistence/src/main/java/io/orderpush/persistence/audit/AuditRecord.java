package io.orderpush.persistence.audit;

import java.util.UUID;

/**
 * One batch that left the gateway: events {@code fromSeq..toSeq} of a merchant, sent to an app.
 *
 * @param via the WebSocket connection id, the callback endpoint URL, or the replay request id
 * @param deliveredAtMillis when it was sent (a callback: when the POST started)
 * @param masked whether personal data in it was masked
 * @param outcome a callback attempt's outcome; null for the other transports
 * @param heldSeqs the seqs the batch held, comma-separated ({@link #held}), when they are not every
 *     seq of {@code fromSeq..toSeq} (an app subscribed to some event types is sent only those);
 *     null when they are, or when listing them takes more than {@link #MAX_HELD_CHARS}
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
    Outcome outcome,
    String heldSeqs) {

  /**
   * Longest list of held seqs kept, in characters (about 125 seqs of 7 digits): a record waiting in
   * the audit writer's buffer stays within about a kilobyte more than before. A batch whose list is
   * longer (a large batch or replay filtered by event type) is found by its range alone, so a query
   * by order may name it for an event it passed over.
   */
  public static final int MAX_HELD_CHARS = 1_000;

  /**
   * The {@code heldSeqs} of a batch of {@code n} events whose seqs, ascending, {@code seqAt} gives:
   * null when they are every seq from the first to the last, or take more than {@link
   * #MAX_HELD_CHARS} to list.
   */
  public static String held(java.util.function.IntToLongFunction seqAt, int n) {
    if (n == 0
        || n > MAX_HELD_CHARS / 2
        || seqAt.applyAsLong(n - 1) - seqAt.applyAsLong(0) + 1 == n) {
      return null;
    }
    StringBuilder sb = new StringBuilder(Math.min(MAX_HELD_CHARS, n * 8));
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(seqAt.applyAsLong(i));
      if (sb.length() > MAX_HELD_CHARS) {
        return null;
      }
    }
    return sb.toString();
  }

  /** This record with {@code heldSeqs}. */
  public AuditRecord holding(String held) {
    return new AuditRecord(
        appId,
        merchantId,
        fromSeq,
        toSeq,
        transport,
        via,
        deliveredAtMillis,
        masked,
        outcome,
        held);
  }

  /**
   * How a callback attempt ended: the delivery log of an endpoint.
   *
   * @param status the HTTP answer; 0 when there was none (see {@code error})
   * @param error what happened when there was no answer; null otherwise
   * @param webhookId the attempt's {@code webhook-id} (the same for every attempt of a batch)
   * @param latencyMs from sending to the answer, or to giving up
   * @param responseHead the first bytes of the answer's body; null without an answer
   */
  public record Outcome(
      int status, String error, String webhookId, int latencyMs, String responseHead) {

    public Outcome {
      error = storable(error);
      responseHead = storable(responseHead);
    }

    /** {@code 2xx}..{@code 5xx}, or {@code none} without an answer. */
    public String statusClass() {
      return status == 0 ? "none" : (status / 100) + "xx";
    }
  }

  /** Errors and answer heads are kept for the operator, not as a log: long ones are cut. */
  static final int MAX_TEXT_CHARS = 300;

  /**
   * Cut to {@link #MAX_TEXT_CHARS}, without NUL characters: PostgreSQL refuses them in text
   * (22021), and the writer would drop the whole group it came in (an endpoint answering gzip or
   * UTF-16 would cost every app's records of that write).
   */
  static String storable(String text) {
    if (text == null) {
      return null;
    }
    if (text.length() > MAX_TEXT_CHARS) {
      text = text.substring(0, MAX_TEXT_CHARS);
    }
    return text.indexOf(0) < 0 ? text : text.replace((char) 0, (char) 0xFFFD);
  }

  public AuditRecord {
    if (fromSeq < 1 || toSeq < fromSeq) {
      throw new IllegalArgumentException("bad seq range " + fromSeq + "-" + toSeq);
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
        appId, merchantId, fromSeq, toSeq, transport, via, deliveredAtMillis, masked, null, null);
  }

  /** One POST attempt of a callback batch, to the endpoint {@code url}, and how it ended. */
  public static AuditRecord attempt(
      UUID appId,
      String merchantId,
      long fromSeq,
      long toSeq,
      String url,
      long sentAtMillis,
      boolean masked,
      Outcome outcome) {
    return new AuditRecord(
        appId,
        merchantId,
        fromSeq,
        toSeq,
        Transport.CALLBACK,
        url,
        sentAtMillis,
        masked,
        outcome,
        null);
  }
}
