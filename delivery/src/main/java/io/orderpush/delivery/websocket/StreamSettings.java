package io.orderpush.delivery.websocket;

import java.time.Duration;

/**
 * WebSocket push limits.
 *
 * @param window unacked events allowed per channel
 * @param maxBatchEvents events read for one channel at a time (and at most per {@code events}
 *     message)
 * @param maxFrameBytes an {@code events} message is split before it grows past this
 * @param maxParallelReads event-log reads in flight per connection
 * @param writeQueueBytes socket write buffer per connection; past it the connection is paused
 * @param pingInterval how often the server pings
 * @param idleTimeout a connection that sends nothing (not even a pong) for this long is closed
 * @param ackTimeout a connection that leaves events unacked for this long is closed
 * @param maxClientMessagesInFlight client messages (acks) received and not yet handled per
 *     connection; past it the gateway stops reading that socket until they are
 * @param maxClientMessagesPerSecond client messages one connection may send within one second; past
 *     it the connection gets {@code error rate_limited} and is closed (1008)
 * @param maxConnectionsPerApp open connections of one app on this node; past it an upgrade is
 *     refused ({@code 429 too_many_connections}), and a connection that raced past the check gets
 *     {@code error too_many_connections} and is closed (1008)
 */
public record StreamSettings(
    int window,
    int maxBatchEvents,
    int maxFrameBytes,
    int maxParallelReads,
    int writeQueueBytes,
    Duration pingInterval,
    Duration idleTimeout,
    Duration ackTimeout,
    int maxClientMessagesInFlight,
    int maxClientMessagesPerSecond,
    int maxConnectionsPerApp) {}
