package io.orderpush.gateway.config;

/**
 * Ingest limits (413 past the first three) and the group-commit shape.
 *
 * @param maxEvents events per request
 * @param maxRequestBytes bytes per request body
 * @param maxDataBytes bytes of one event's {@code data}, as re-encoded compact JSON
 * @param maxGroupEvents events one group-commit transaction takes at most
 * @param maxQueuedEvents events waiting for a commit before requests are refused with 503
 * @param maxInFlightBytes bytes of requests admitted and not yet answered before new ones are
 *     refused with 503 (before their body is read)
 * @param maxDataDepth levels of objects and arrays one event's {@code data} may nest (400 past it)
 */
public record IngestConfig(
    int maxEvents,
    int maxRequestBytes,
    int maxDataBytes,
    int maxGroupEvents,
    int maxQueuedEvents,
    int maxInFlightBytes,
    int maxDataDepth) {}
