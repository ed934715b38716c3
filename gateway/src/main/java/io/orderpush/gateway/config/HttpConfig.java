package io.orderpush.gateway.config;

import java.time.Duration;

/**
 * The HTTP edge: where it listens, how long shutdown waits for in-flight requests, the largest
 * WebSocket message (and frame) a client may send (past it the connection is closed with 1009), and
 * the event-loop threads of the process, which serve HTTP, WebSockets, delivery and the PostgreSQL
 * client alike ({@code eventLoops}, 0: one per core).
 */
public record HttpConfig(
    String host,
    int port,
    Duration shutdownGrace,
    int maxClientWebSocketMessageBytes,
    int eventLoops) {

  /** The event loops to start: {@code eventLoops}, or one per core when it is 0. */
  public int eventLoopThreads() {
    return eventLoops > 0 ? eventLoops : Runtime.getRuntime().availableProcessors();
  }
}
