package io.orderpush.delivery.callback;

import io.orderpush.persistence.apps.App;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A callback app whose endpoint is still being loaded (secrets, then grants page by page), and when
 * to try again after PostgreSQL failed: 0.5 s doubling to 30 s, with jitter. Confined to the
 * delivery engine's context.
 */
final class EndpointLoader {

  static final long FIRST_RETRY_MS = 500;
  static final long MAX_RETRY_MS = 30_000;

  final App app;

  /** Grants are loaded in merchant order; the next page starts after this merchant. */
  String grantsAfter = "";

  int attempts;
  long timer = -1;
  private String lastError;
  private long nextAttemptAt;

  EndpointLoader(App app) {
    this.app = app;
  }

  /** Records a failed attempt; returns the delay before the next one. */
  long failed(Throwable err, long now) {
    attempts++;
    lastError = "loading the endpoint failed: " + err;
    double base = FIRST_RETRY_MS * Math.pow(2, Math.min(attempts - 1, 16));
    long delay =
        (long) (Math.min(base, MAX_RETRY_MS) * ThreadLocalRandom.current().nextDouble(0.8, 1.2));
    nextAttemptAt = now + delay;
    return delay;
  }

  /** The endpoint as far as it is loaded, marked as not loaded. */
  EndpointView view(Optional<EndpointView> partly) {
    Optional<Instant> next =
        nextAttemptAt == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(nextAttemptAt));
    return new EndpointView(
        partly.map(EndpointView::state).orElse(app.endpointState()),
        Optional.ofNullable(lastError),
        partly.map(EndpointView::consecutiveFailures).orElse(0),
        next,
        partly.flatMap(EndpointView::lastSuccessAt),
        partly.map(EndpointView::channels).orElse(0),
        partly.map(EndpointView::channelsWaiting).orElse(0),
        EndpointView.Loading.LOADING);
  }

  static EndpointView unreadableView() {
    return new EndpointView(
        "active",
        Optional.of(
            "the app's webhook secret cannot be opened with the configured key; nothing is"
                + " delivered until the gateway runs with the key it was sealed under, or the"
                + " secret is rotated"),
        0,
        Optional.empty(),
        Optional.empty(),
        0,
        0,
        EndpointView.Loading.UNREADABLE);
  }
}
