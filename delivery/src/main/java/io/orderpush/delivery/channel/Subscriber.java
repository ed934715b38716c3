package io.orderpush.delivery.channel;

import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.Future;
import java.util.List;

/**
 * A transport endpoint that owns channels: a WebSocket connection, or an app's callback endpoint.
 * It only states its limits and takes what it is handed; the {@link DeliveryEngine} alone schedules
 * (its ready queues and reads in flight are the engine's): it reads events for the subscriber's
 * channels, at most {@link #maxParallelReads()} at a time and only while it is {@link #writable()},
 * and hands them over in seq order. Every method is called on the engine's context.
 */
public interface Subscriber {

  /** Identifies the owner in Redis and logs. */
  String id();

  /** Unacked events allowed per channel. */
  int window();

  /** Events read for one channel at a time. */
  int maxBatch();

  /** Reads in flight for this subscriber at most. */
  int maxParallelReads();

  /**
   * False while the transport's own buffer is full; the engine then waits for {@link
   * DeliveryEngine#drive}.
   */
  boolean writable();

  /**
   * Whether the channel may get its next events now. A transport that keeps one batch in flight per
   * channel answers false until that batch is acked. Call {@link DeliveryEngine#wake} when the
   * answer turns true.
   */
  default boolean accepts(Channel channel) {
    return true;
  }

  /** The channel is claimed and delivery is about to start from {@code cursor + 1}. */
  void claimed(Channel channel, long cursor);

  /** Events of one channel, consecutive seqs following what was delivered before. */
  void deliver(Channel channel, List<LoggedEvent> events);

  /**
   * A batch asked for with {@link DeliveryEngine#resend}, read back whole from the log: the same
   * events as first delivered (the same event types and prevSeqs), masked or not by the grant's
   * scope now. Only for subscribers that resend.
   */
  default void redeliver(Channel channel, List<LoggedEvent> events) {}

  /**
   * Reading back a batch asked for with {@link DeliveryEngine#resend} failed; ask again later.
   *
   * @param expired retention removed events of the range: the batch can never be sent again, and
   *     delivery of the channel starts over from its cursor + 1 with what is still stored
   */
  default void redeliveryFailed(Channel channel, Throwable cause, boolean expired) {}

  /**
   * The channel was taken away: completes when nothing of it is on the way out any more (a callback
   * POST in flight has its answer), with the seq that answer acked, or -1. Only then is it released
   * in Redis for another node to claim.
   */
  default Future<Long> drained(Channel channel) {
    return Future.succeededFuture(-1L);
  }

  /**
   * Delivery of the channel starts over from its cursor + 1 (the cursor was set through the API, or
   * Redis lost the channel and it was claimed again); events after the cursor come again.
   */
  default void restarted(Channel channel) {}

  /**
   * What holds the channel back on the transport's side, if anything: a state name that has a way
   * out (a send in flight, a retry timer), {@link ChannelStates#STUCK} if it has none, or null when
   * the transport holds nothing back.
   */
  default String heldBy(Channel channel) {
    return null;
  }
}
