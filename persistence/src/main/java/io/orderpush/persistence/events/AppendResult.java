package io.orderpush.persistence.events;

/**
 * What ingest answers for one event: its seq, and whether it was already in the log.
 *
 * @param json the event as stored and delivered, for a new event; null for a duplicate
 */
public record AppendResult(
    String merchantId, String eventId, long seq, boolean duplicate, String json) {}
