package io.orderpush.delivery.callback;

import java.time.Duration;
import java.util.Optional;

/**
 * How one POST of a batch ended.
 *
 * @param status the HTTP status, or 0 if there was no answer (refused, timeout, reset)
 * @param retryAfter the Retry-After of a 429 or 503, if it had one
 * @param error what went wrong, for the operator view; empty on success
 */
record Attempt(int status, Optional<Duration> retryAfter, String error) {

  boolean succeeded() {
    return status >= 200 && status < 300;
  }

  boolean gone() {
    return status == 410;
  }

  String statusClass() {
    return status == 0 ? "none" : (status / 100) + "xx";
  }
}
