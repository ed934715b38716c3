package io.orderpush.delivery.channel;

import java.util.UUID;

/**
 * Told what happens to the apps it watches: events acknowledged (with the time they were
 * committed), callback answers, WebSocket connections opened and closed for unacked events. How app
 * drills measure an app on whichever node delivers its channels. Called on event loops;
 * implementations only count, and must be thread-safe.
 */
public interface DeliveryProbe {

  DeliveryProbe NONE =
      new DeliveryProbe() {
        @Override
        public boolean watches(UUID appId) {
          return false;
        }

        @Override
        public void acked(
            UUID appId, String merchantId, long events, long committedAtMs, long ackedAtMs) {}
      };

  /** Whether acks of this app's channels are wanted; asked for every batch sent, so cheap. */
  boolean watches(UUID appId);

  /**
   * {@code events} events of the channel, the last of them committed at {@code committedAtMs}, were
   * acknowledged at {@code ackedAtMs} (a WebSocket ack, or a callback's 2xx).
   */
  void acked(UUID appId, String merchantId, long events, long committedAtMs, long ackedAtMs);

  /**
   * A callback POST of the channel ended: {@code status} is the HTTP status, 0 without an answer
   * ({@code timeout} tells a timeout from other errors); {@code attempt} counts from 1.
   */
  default void callbackAnswered(
      UUID appId, String merchantId, int status, boolean timeout, int attempt) {}

  /** A WebSocket connection of the app was opened. */
  default void connectionOpened(UUID appId) {}

  /** A WebSocket connection of the app was closed for leaving events unacked too long. */
  default void ackTimedOut(UUID appId) {}
}
