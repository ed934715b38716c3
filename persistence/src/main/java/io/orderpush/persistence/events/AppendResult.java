package io.orderpush.persistence.events;

/** What ingest answers for one event: its seq, and whether it was already in the log. */
public record AppendResult(String merchantId, String eventId, long seq, boolean duplicate) {}
