package io.orderpush.persistence.events;

import io.orderpush.persistence.masking.MaskPatch;
import java.util.Objects;

/**
 * A validated event on its way into the log.
 *
 * <p>{@code renderedTail} is the event as delivery will send it, minus the two fields that only the
 * commit knows: the JSON members {@code "eventId"...,"data":{...}} followed by the closing brace.
 * The edge renders it once on its own event loop so the committer only prepends seq and ingestedAt.
 * {@code maskedTail} is the same with the personal data of {@code data} masked, or null when there
 * is none (rendered by the edge too, with the log's {@code Masker}). {@code maskPatch} is what the
 * log stores of it ({@link MaskPatch}), made off the committer's thread: by the edge from its
 * masking pass, or by the four-argument constructor, comparing the two tails, on the thread that
 * makes the event. Null when there is nothing to mask or no patch expresses the masked tail (then
 * the log stores it whole). The edge's patch is trusted as it is: it must give {@code maskedTail}
 * from {@code renderedTail}.
 */
public record NewEvent(
    String merchantId, String eventId, String renderedTail, String maskedTail, String maskPatch) {

  public NewEvent {
    Objects.requireNonNull(merchantId, "merchantId");
    Objects.requireNonNull(eventId, "eventId");
    Objects.requireNonNull(renderedTail, "renderedTail");
    if (maskedTail == null) {
      maskPatch = null;
    }
  }

  public NewEvent(String merchantId, String eventId, String renderedTail, String maskedTail) {
    this(
        merchantId,
        eventId,
        renderedTail,
        maskedTail,
        maskedTail == null ? null : MaskPatch.of(renderedTail, maskedTail));
  }

  public NewEvent(String merchantId, String eventId, String renderedTail) {
    this(merchantId, eventId, renderedTail, null, null);
  }

  /** Approximate bytes this event occupies in a request, for queue accounting. */
  public int weight() {
    return renderedTail.length() + (maskedTail == null ? 0 : maskedTail.length()) + 64;
  }
}
