package io.orderpush.persistence.apps;

import java.time.Instant;

/**
 * An app found by one of its tokens.
 *
 * @param app the app
 * @param tokenHash SHA-256 of the token presented
 * @param validUntil {@link Instant#MAX} for the current token; for the previous one, the end of its
 *     rotation's grace period, when a connection opened with it must close
 */
public record AuthenticatedApp(App app, byte[] tokenHash, Instant validUntil) {}
