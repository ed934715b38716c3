package io.orderpush.persistence.apps;

import java.time.Instant;
import java.util.Optional;
import java.util.UUID;

/** A registered ISV application, without its credentials. */
public record App(
    UUID appId, String name, DeliveryMode mode, Optional<String> callbackUrl, String state, Instant createdAt) {}
