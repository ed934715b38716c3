package io.orderpush.delivery.channel;

import io.orderpush.persistence.events.LoggedEvent;
import java.util.ArrayDeque;
import java.util.List;

/**
 * A transport endpoint that owns channels: a WebSocket connection, or an app's callback endpoint.
 * The engine reads events for its channels, at most {@link #maxParallelReads()} at a time and only
 * while it is {@link #writable()}, and hands them over in seq order.
 */
public abstract class Subscriber {

  final ArrayDeque<Channel> ready = new ArrayDeque<>();

  /**
   * Ready channels of drills' sandbox merchants: served only when no real channel is ready, so an
   * app's real merchants keep their latency while a drill floods it.
   */
  final ArrayDeque<Channel> readySandbox = new ArrayDeque<>();

  int reading;

  /** Reads the engine has started for this subscriber and not yet handed over. */
  protected final int readsInFlight() {
    return reading;
  }

  /** Identifies the owner in Redis and logs. */
  public abstract String id();

  /** Unacked events allowed per channel. */
  protected abstract int window();

  /** Events read for one channel at a time. */
  protected abstract int maxBatch();

  protected abstract int maxParallelReads();

  /**
   * False while the transport's own buffer is full; the engine then waits for {@link
   * DeliveryEngine#drive}.
   */
  protected abstract boolean writable();

  /**
   * Whether the channel may get its next events now. A transport that keeps one batch in flight per
   * channel answers false until that batch is acked. Call {@link DeliveryEngine#wake} when the
   * answer turns true.
   */
  protected boolean accepts(Channel channel) {
    return true;
  }

  /** The channel is claimed and delivery is about to start from {@code cursor + 1}. */
  protected abstract void claimed(Channel channel, long cursor);

  /** Events of one channel, consecutive seqs following what was delivered before. */
  protected abstract void deliver(Channel channel, List<LoggedEvent> events);

  /**
   * The channel was taken away: completes when nothing of it is on the way out any more (a callback
   * POST in flight has its answer), with the seq that answer acked, or -1. Only then is it released
   * in Redis for another node to claim.
   */
  protected io.vertx.core.Future<Long> drained(Channel channel) {
    return io.vertx.core.Future.succeededFuture(-1L);
  }

  /**
   * Delivery of the channel starts over from its cursor + 1 (the cursor was set through the API, or
   * Redis lost the channel and it was claimed again); events after the cursor come again.
   */
  protected void restarted(Channel channel) {}

  /**
   * What holds the channel back on the transport's side, if anything: a state name that has a way
   * out (a send in flight, a retry timer), {@link ChannelStates#STUCK} if it has none, or null when
   * the transport holds nothing back. Engine context only.
   */
  protected String heldBy(Channel channel) {
    return null;
  }
}
