package io.orderpush.delivery.cursor;

/**
 * What a claim got: the channel's new ownership (the epoch that fences every older owner, and the
 * cursor to resume after), or, refused, the lease token of the node that holds it.
 *
 * @param prev the last seq at or below the cursor that the app was delivered (its subscription
 *     included), the {@code prevSeq} of the next event delivered; the cursor itself when the cursor
 *     did not move past filtered-out events, or Redis does not know
 * @param holder null when claimed; the holding node's token when refused
 * @param rewinds how many times the cursor was set through the API or started again for a new grant
 *     (0: never)
 */
public record Claim(long epoch, long cursor, long prev, String holder, long rewinds) {

  static Claim refused(String holder) {
    return new Claim(-1, 0, 0, holder, 0);
  }

  /** Another node holds the channel: nothing changed. */
  public boolean isRefused() {
    return holder != null;
  }
}
