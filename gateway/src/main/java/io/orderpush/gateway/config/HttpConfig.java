package io.orderpush.gateway.config;

import java.time.Duration;

/** The HTTP edge: where it listens and how long shutdown waits for in-flight requests. */
public record HttpConfig(String host, int port, Duration shutdownGrace) {}
