package io.orderpush.delivery.websocket;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.function.Supplier;

/** Meters of the WebSocket transport. */
final class StreamMetrics {

  final Counter opened;
  final Counter idleClosed;
  final Counter ackTimeouts;
  final Counter rateLimited;
  final Counter tokenExpired;
  final Counter tooMany;
  final Counter forcedClosed;
  final Counter paused;
  final Counter readsPaused;
  final Counter rebalances;
  final Counter staleAcks;

  StreamMetrics(MeterRegistry registry, Supplier<Number> open) {
    opened =
        Counter.builder("gateway.stream.connections.opened")
            .description("WebSocket connections accepted")
            .register(registry);
    idleClosed =
        Counter.builder("gateway.stream.connections.closed")
            .tag("reason", "idle")
            .description("Connections closed because nothing was heard from them")
            .register(registry);
    ackTimeouts =
        Counter.builder("gateway.stream.connections.closed")
            .tag("reason", "ack_timeout")
            .description("Connections closed because they left events unacked too long")
            .register(registry);
    rateLimited =
        Counter.builder("gateway.stream.connections.closed")
            .tag("reason", "rate_limited")
            .description("Connections closed because they sent more messages a second than allowed")
            .register(registry);
    tokenExpired =
        Counter.builder("gateway.stream.connections.closed")
            .tag("reason", "token_expired")
            .description(
                "Connections closed because the app token they were opened with was rotated out")
            .register(registry);
    tooMany =
        Counter.builder("gateway.stream.connections.closed")
            .tag("reason", "too_many_connections")
            .description(
                "Connections closed as they joined because their app had the most it may have open"
                    + " on this node")
            .register(registry);
    forcedClosed =
        Counter.builder("gateway.stream.sockets.forced.closed")
            .description(
                "Sockets of closed connections still open a ping interval later (their client"
                    + " read nothing, not even the close frame), closed with what was queued")
            .register(registry);
    readsPaused =
        Counter.builder("gateway.stream.reads.paused")
            .description(
                "Times a connection sent messages faster than they were handled and its socket"
                    + " stopped being read")
            .register(registry);
    paused =
        Counter.builder("gateway.stream.paused")
            .description("Times a connection's write buffer filled up and its delivery paused")
            .register(registry);
    rebalances =
        Counter.builder("gateway.stream.rebalances")
            .description("Consumer-group rebalances (a connection joined or left, a grant changed)")
            .register(registry);
    staleAcks =
        Counter.builder("gateway.stream.acks.stale")
            .description(
                "Acks naming an assignment older than the channel's latest on their connection"
                    + " (sent before the client read it, after a rewind say): ignored")
            .register(registry);
    Gauge.builder("gateway.stream.connections", open)
        .description("Open WebSocket connections")
        .register(registry);
  }
}
