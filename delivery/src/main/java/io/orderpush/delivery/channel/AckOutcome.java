package io.orderpush.delivery.channel;

/** The answer to an ack. */
public enum AckOutcome {
  /** The cursor moved to the acked seq. */
  COMMITTED,
  /** At or below the cursor: nothing to do. */
  ALREADY_ACKED,
  /** Above what this owner was sent: a protocol error. */
  BEYOND_DELIVERED,
  /**
   * A position from before the channel restarted (a rewind), or sent while the channel just given
   * to this subscriber is still being claimed: ignored, the cursor did not move.
   */
  STALE,
  /** This subscriber does not own the channel (any more); the cursor did not move. */
  NOT_OWNER,
  /**
   * The channel's epoch had moved on (a rewind) or Redis had lost it: the cursor did not move, and
   * delivery restarts from the stored cursor + 1.
   */
  RESTARTED
}
