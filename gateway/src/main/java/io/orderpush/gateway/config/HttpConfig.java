package io.orderpush.gateway.config;

import java.time.Duration;

/**
 * The HTTP edge: where it listens, how long shutdown waits for in-flight requests, and the largest
 * WebSocket message (and frame) a client may send; past it the connection is closed with 1009.
 */
public record HttpConfig(
    String host, int port, Duration shutdownGrace, int maxClientWebSocketMessageBytes) {}
