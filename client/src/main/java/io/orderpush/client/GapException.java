package io.orderpush.client;

/**
 * An event arrived whose {@code prevSeq} is above the last seq applied for its merchant: events
 * between them were never seen (expired by retention, a cursor skipped forward, or a fault). The
 * batch is not applied and not acknowledged; nothing is skipped silently. To accept the gap, move
 * the store past it with {@link AppliedStore#skipTo}.
 */
public final class GapException extends OrderPushException {

  private static final long serialVersionUID = 1L;

  private final String merchantId;
  private final long lastApplied;
  private final long seq;
  private final long prevSeq;

  public GapException(String merchantId, long lastApplied, long seq, long prevSeq) {
    super(
        "merchant "
            + merchantId
            + ": event seq "
            + seq
            + " follows prevSeq "
            + prevSeq
            + " but the last applied seq is "
            + lastApplied
            + " (events "
            + (lastApplied + 1)
            + ".."
            + prevSeq
            + " missing)");
    this.merchantId = merchantId;
    this.lastApplied = lastApplied;
    this.seq = seq;
    this.prevSeq = prevSeq;
  }

  public String merchantId() {
    return merchantId;
  }

  public long lastApplied() {
    return lastApplied;
  }

  public long seq() {
    return seq;
  }

  public long prevSeq() {
    return prevSeq;
  }
}
