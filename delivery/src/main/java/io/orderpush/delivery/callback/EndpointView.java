package io.orderpush.delivery.callback;

import java.time.Instant;
import java.util.Optional;

/** What operators see of a callback endpoint. */
public record EndpointView(
    String state,
    Optional<String> lastError,
    int consecutiveFailures,
    Optional<Instant> nextAttemptAt,
    Optional<Instant> lastSuccessAt,
    int channels,
    int channelsWaiting) {}
