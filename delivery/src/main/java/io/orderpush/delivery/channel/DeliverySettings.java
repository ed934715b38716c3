package io.orderpush.delivery.channel;

import java.time.Duration;

/**
 * Settings of the delivery engine.
 *
 * @param checkpointInterval how often moved cursors are copied from Redis to PostgreSQL
 * @param tailCacheBytes bound of the cache of recent events, in bytes
 * @param reconcileInterval how often heads that moved recently are read back from PostgreSQL, to
 *     wake channels whose wake-up was missed (a commit whose answer was lost, another writer)
 * @param reconcileLookback how far back a reconcile looks: longer than any commit can take, so a
 *     commit stamped before one sweep and visible only after it is still seen by the next
 */
public record DeliverySettings(
    Duration checkpointInterval,
    long tailCacheBytes,
    Duration reconcileInterval,
    Duration reconcileLookback) {}
