package io.orderpush.client;

import java.time.Duration;
import java.util.List;

/**
 * What a {@link StreamConsumer} tells the application besides the batches: connection changes,
 * assignments, and failures to log or alert on. Every method has a no-op default. Called from the
 * consumer's threads; keep it quick and do not throw.
 */
public interface ConsumerListener {

  /** Does nothing. */
  ConsumerListener NONE = new ConsumerListener() {};

  /** A connection is open and said {@code hello}. */
  default void connected(String connectionId) {}

  /** These merchants are now served by this consumer. */
  default void assigned(List<String> merchants) {}

  /** These merchants moved away (or were revoked): their unfinished work was dropped, not acked. */
  default void unassigned(List<String> merchants) {}

  /**
   * A batch was applied (or found applied already) and acknowledged up to {@code seq}. Not called
   * when the merchant moved away meanwhile.
   */
  default void acked(String merchantId, long seq) {}

  /**
   * Applying a batch failed: the handler or the store threw, or events are missing ({@link
   * GapException}). It is not acknowledged and is tried again after {@code retryIn} while the
   * merchant stays with this consumer.
   */
  default void batchFailed(Batch batch, Exception error, Duration retryIn) {}

  /** The gateway sent an {@code error} message (docs/websocket.md, error codes). */
  default void serverError(String code, String message) {}

  /**
   * The connection closed or could not be opened; the consumer reconnects after {@code reconnectIn}
   * (null: it does not, it was closed).
   */
  default void disconnected(String why, Duration reconnectIn) {}

  /** A message the consumer could not use (not JSON, too large, events of a merchant not held). */
  default void protocolError(String what) {}
}
