package io.orderpush.gateway.config;

/**
 * Replay limits.
 *
 * @param maxEvents events one replay request returns at most
 * @param poolSize PostgreSQL connections replays read with, apart from delivery's
 * @param maxConcurrent replays streamed at once on this node; past it, 503
 * @param maxConcurrentPerApp replays of one app at once; past it, 429
 * @param maxEventsPerSecond events a second all replays of a node stream together (0: unpaced)
 * @param stallTimeout a replay whose client reads nothing for this long is cut off
 */
public record ReplayConfig(
    int maxEvents,
    int poolSize,
    int maxConcurrent,
    int maxConcurrentPerApp,
    long maxEventsPerSecond,
    java.time.Duration stallTimeout) {}
