package io.orderpush.delivery.channel;

/** The answer to an ack. */
public enum AckOutcome {
  /** The cursor moved to the acked seq. */
  COMMITTED,
  /** At or below the cursor: nothing to do. */
  ALREADY_ACKED,
  /** Above what this owner was sent: a protocol error. */
  BEYOND_DELIVERED,
  /** This subscriber does not own the channel (any more); the cursor did not move. */
  NOT_OWNER
}
