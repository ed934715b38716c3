package io.orderpush.delivery.cursor;

/** What a cursor commit did. */
public enum CommitOutcome {
  /** The cursor moved forward to the acked seq. */
  ADVANCED,
  /** The cursor was already at or past the acked seq; nothing changed. */
  UNCHANGED,
  /**
   * The committer's epoch is not the channel's current one (claimed again, or rewound); nothing
   * changed.
   */
  FENCED,
  /** Redis no longer has the channel (flushed, restarted empty, failed over); nothing changed. */
  MISSING
}
