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
    int channelsWaiting,
    Loading loading) {

  /** Whether this node has loaded the endpoint (its secrets and every grant). */
  public enum Loading {
    /** Loaded: every granted merchant is delivered. */
    LOADED,
    /** Not yet: PostgreSQL failed while loading it; retried with backoff (see nextAttemptAt). */
    LOADING,
    /** Never, with this configuration: the secret is sealed under another key. */
    UNREADABLE;

    public String wire() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }
}
