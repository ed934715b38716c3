package io.orderpush.delivery.control;

import java.time.Duration;

/**
 * @param nodeId this node's name, carried by its notices so it can ignore its own
 * @param channel the Redis pub/sub channel every node of one cluster publishes to and listens on
 * @param reconcileInterval how often every app's control version is compared with PostgreSQL
 */
public record ControlSettings(String nodeId, String channel, Duration reconcileInterval) {}
