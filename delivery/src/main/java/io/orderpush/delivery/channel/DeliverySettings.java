package io.orderpush.delivery.channel;

import java.time.Duration;

/**
 * Settings of the delivery engine.
 *
 * @param checkpointInterval how often moved cursors are copied from Redis to PostgreSQL
 * @param tailCacheBytes bound of the cache of recent events, in bytes
 * @param reconcileInterval how often the heads of merchants with channels here are read back from
 *     PostgreSQL, to wake channels whose wake-up was missed (a commit whose answer was lost,
 *     another writer's notice lost)
 * @param reconcileBatch merchants whose heads one reconcile round reads at most; with more, the
 *     rounds take them in turn, so a sweep of all of them takes {@code ceil(merchants / batch)}
 *     intervals
 * @param longestWrite the longest before a checkpoint write issued now has landed or failed (a
 *     checkpoint interval, a pooled connection's wait and connect, the PostgreSQL client's
 *     timeout): a rewind's checkpoint is written once more after it, over any other node's write of
 *     the cursor from before the rewind that was still in flight
 */
public record DeliverySettings(
    Duration checkpointInterval,
    long tailCacheBytes,
    Duration reconcileInterval,
    int reconcileBatch,
    Duration longestWrite) {}
