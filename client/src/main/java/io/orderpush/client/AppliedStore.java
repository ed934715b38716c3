package io.orderpush.client;

import java.util.OptionalLong;

/**
 * The last applied seq per merchant, the one piece of state that makes delivery exactly-once: the
 * gateway delivers at least once (after a crash, a lost ack or a channel moving to another
 * connection, events come again), and {@link #applyOnce} drops everything at or below the recorded
 * seq.
 *
 * <p>A store applies one merchant's batches one at a time, across threads and, for a database
 * store, across processes: two consumers that briefly both hold a merchant (a move) cannot apply
 * its events twice. An implementation picks the fresh events with {@link Batch#after(long,
 * boolean)}, which also refuses a gap.
 *
 * @param <T> what the handler receives to do its work in the store's transaction
 */
public interface AppliedStore<T> {

  /** The last seq applied for the merchant; empty if nothing was ever applied. */
  OptionalLong lastApplied(String merchantId);

  /**
   * Applies the batch's events above the last applied seq with {@code handler} and records the
   * batch's last seq, as one unit: both happen or neither. Calls the handler only when something is
   * fresh.
   *
   * @return the last seq applied for the merchant afterwards
   * @throws GapException if an event's {@code prevSeq} is above the last applied seq
   * @throws Exception what the handler threw (nothing is recorded then)
   */
  long applyOnce(Batch batch, BatchHandler<T> handler) throws Exception;

  /**
   * Records {@code seq} as applied without applying anything: accepting a {@link GapException}, or
   * after moving the gateway's cursor forward. Never moves the seq backwards.
   */
  void skipTo(String merchantId, long seq);
}
