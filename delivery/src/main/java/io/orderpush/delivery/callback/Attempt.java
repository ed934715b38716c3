package io.orderpush.delivery.callback;

import java.time.Duration;
import java.util.Optional;

/**
 * How one POST of a batch ended.
 *
 * @param status the HTTP status, or 0 if there was no answer (refused, timeout, reset)
 * @param retryAfter the Retry-After of an answer that is not 2xx, if it had one
 * @param error what went wrong, for the operator view; empty on success
 * @param responseHead the first bytes of the answer's body (at most {@link #HEAD_BYTES}, as text),
 *     empty without an answer
 */
record Attempt(int status, Optional<Duration> retryAfter, String error, String responseHead) {

  /** How much of an answer's body is kept for the delivery log; the rest is read and dropped. */
  static final int HEAD_BYTES = 256;

  Attempt(int status, Optional<Duration> retryAfter, String error) {
    this(status, retryAfter, error, "");
  }

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
