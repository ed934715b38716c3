package io.orderpush.persistence.apps;

import java.time.Instant;
import java.util.Optional;
import java.util.UUID;

/**
 * A registered ISV application, without its credentials.
 *
 * @param state {@code active} or {@code frozen}
 * @param endpointState for callback apps: {@code active}, {@code failing} or {@code suspended}
 */
public record App(
    UUID appId,
    String name,
    DeliveryMode mode,
    Optional<String> callbackUrl,
    String state,
    String endpointState,
    Instant createdAt) {}
