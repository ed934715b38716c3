package io.orderpush.client;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One delivered event, as in docs/websocket.md.
 *
 * @param seq the merchant's sequence number
 * @param prevSeq the seq of the previous event this app is sent for the merchant; the gateway's
 *     {@code prevSeq} when the event carries one, else {@code seq - 1}
 * @param eventId the marketplace's id
 * @param orderId the order
 * @param type for example {@code order.paid}
 * @param occurredAt ISO-8601, UTC
 * @param ingestedAt when the gateway stored it, ISO-8601
 * @param data the marketplace's payload, personal data masked unless the grant has {@code pii}
 */
public record Event(
    long seq,
    long prevSeq,
    String eventId,
    String orderId,
    String type,
    String occurredAt,
    String ingestedAt,
    JsonNode data) {}
