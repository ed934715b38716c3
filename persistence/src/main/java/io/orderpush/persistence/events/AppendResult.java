package io.orderpush.persistence.events;

/**
 * What ingest answers for one event: its seq, and whether it was already in the log.
 *
 * @param json the event as stored and delivered, for a new event; null for a duplicate
 * @param maskedJson the event with its personal data masked, or null (a duplicate, or none to mask)
 */
public record AppendResult(
    String merchantId,
    String eventId,
    long seq,
    boolean duplicate,
    String json,
    String maskedJson) {

  public AppendResult(String merchantId, String eventId, long seq, boolean duplicate, String json) {
    this(merchantId, eventId, seq, duplicate, json, null);
  }
}
