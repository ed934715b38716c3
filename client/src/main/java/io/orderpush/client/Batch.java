package io.orderpush.client;

import io.orderpush.client.impl.Json;
import java.util.ArrayList;
import java.util.List;

/**
 * Consecutive events of one merchant in seq order: one WebSocket {@code events} message or one
 * callback request.
 */
public record Batch(String merchantId, List<Event> events) {

  public Batch {
    events = List.copyOf(events);
  }

  /**
   * Parses a callback body or a WebSocket {@code events} message ({@code {"merchantId": ...,
   * "events": [...]}}); for applications that receive batches their own way. Verify a callback's
   * signature over the same bytes first ({@link WebhookVerifier}).
   *
   * @throws OrderPushException if it is not such a batch, or its seqs do not rise
   */
  public static Batch fromJson(byte[] json) {
    return Json.batch(Json.tree(json));
  }

  /** The seq of the last event, or 0 for an empty batch. */
  public long lastSeq() {
    return events.isEmpty() ? 0 : events.get(events.size() - 1).seq();
  }

  /** The seq of the first event, or 0 for an empty batch. */
  public long firstSeq() {
    return events.isEmpty() ? 0 : events.get(0).seq();
  }

  /**
   * The events not applied yet, given the last seq applied: those at or below it are dropped
   * (redeliveries). With {@code known} false (nothing was ever applied for this merchant) the first
   * event is taken as the start; otherwise an event whose {@code prevSeq} lies above the last
   * applied seq is a gap.
   *
   * @throws GapException if events are missing before one of this batch's
   */
  public Batch after(long lastApplied, boolean known) {
    List<Event> fresh = new ArrayList<>(events.size());
    long last = lastApplied;
    boolean seen = known;
    for (Event e : events) {
      if (seen && e.seq() <= last) {
        continue;
      }
      if (seen && e.prevSeq() > last) {
        throw new GapException(merchantId, last, e.seq(), e.prevSeq());
      }
      fresh.add(e);
      last = e.seq();
      seen = true;
    }
    return fresh.size() == events.size() ? this : new Batch(merchantId, fresh);
  }
}
