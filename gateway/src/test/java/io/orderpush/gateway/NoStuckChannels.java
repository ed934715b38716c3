package io.orderpush.gateway;

import io.orderpush.delivery.channel.ChannelStates;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Asserted at the end of delivery tests: no channel of the gateway is left in a state with no way
 * out (more events to send, and nothing that will send them). States in transition settle within
 * the wait.
 */
public final class NoStuckChannels {

  private NoStuckChannels() {}

  public static void check(TestGateway gw) {
    AtomicReference<ChannelStates> last = new AtomicReference<>();
    Await.until(
        "no stuck channel",
        Duration.ofSeconds(10),
        () -> {
          ChannelStates states =
              gw.gateway
                  .delivery()
                  .channelStates()
                  .toCompletionStage()
                  .toCompletableFuture()
                  .orTimeout(10, TimeUnit.SECONDS)
                  .join();
          last.set(states);
          return states.get(ChannelStates.STUCK) == 0;
        },
        () -> "channels by state: " + last.get());
  }
}
