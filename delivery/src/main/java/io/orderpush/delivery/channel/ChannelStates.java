package io.orderpush.delivery.channel;

import java.util.Map;
import java.util.TreeMap;

/**
 * How many channels of a node are in which state, each state with its way out:
 *
 * <ul>
 *   <li>{@code unowned}: no subscriber (no connection of the app on this node); assigned when one
 *       comes.
 *   <li>{@code claiming}: waiting for its Redis claim, retried every second on failure.
 *   <li>{@code reading}: a log read in flight (bounded by the PostgreSQL timeouts).
 *   <li>{@code read_retry}: a read failed; retried after a second.
 *   <li>{@code ready}: queued on its subscriber, read when the subscriber is writable again.
 *   <li>{@code window_full}: as many events unacked as allowed; left by acks or the ack timeout.
 *   <li>{@code caught_up}: nothing to send; left by a commit notice or the reconcile.
 *   <li>transport states (callbacks: {@code sending}, {@code retry_scheduled}, {@code
 *       retry_queued}, {@code suspended}): left by the answer, the timer, or an operator.
 *   <li>{@code stuck}: none of the above: more events exist but nothing will send them. Always 0
 *       unless there is a defect; tests assert it, and {@code gateway_delivery_channel_states}
 *       shows it.
 * </ul>
 */
public final class ChannelStates {

  public static final String STUCK = "stuck";

  private final Map<String, Integer> counts = new java.util.HashMap<>();

  void count(String state) {
    counts.merge(state, 1, Integer::sum);
  }

  public int get(String state) {
    return counts.getOrDefault(state, 0);
  }

  public Map<String, Integer> counts() {
    return Map.copyOf(counts);
  }

  @Override
  public String toString() {
    return new TreeMap<>(counts).toString();
  }
}
