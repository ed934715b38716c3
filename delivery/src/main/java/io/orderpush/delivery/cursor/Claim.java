package io.orderpush.delivery.cursor;

/**
 * What a claim got: the channel's new ownership (the epoch that fences every older owner, and the
 * cursor to resume after), or, refused, the lease token of the node that holds it.
 *
 * @param holder null when claimed; the holding node's token when refused
 */
public record Claim(long epoch, long cursor, String holder) {

  static Claim refused(String holder) {
    return new Claim(-1, 0, holder);
  }

  /** Another node holds the channel: nothing changed. */
  public boolean isRefused() {
    return holder != null;
  }
}
