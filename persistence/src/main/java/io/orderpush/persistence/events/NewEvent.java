package io.orderpush.persistence.events;

import java.util.Objects;

/**
 * A validated event on its way into the log.
 *
 * <p>{@code renderedTail} is the event as delivery will send it, minus the two fields that only the
 * commit knows: the JSON members {@code "eventId"...,"data":{...}} followed by the closing brace.
 * The edge renders it once on its own event loop so the committer only prepends seq and ingestedAt.
 */
public record NewEvent(String merchantId, String eventId, String renderedTail) {

  public NewEvent {
    Objects.requireNonNull(merchantId, "merchantId");
    Objects.requireNonNull(eventId, "eventId");
    Objects.requireNonNull(renderedTail, "renderedTail");
  }

  /** Approximate bytes this event occupies in a request, for queue accounting. */
  public int weight() {
    return renderedTail.length() + 64;
  }
}
