package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.delivery.channel.ChannelStates;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A channel that changes hands while a log read of it is in flight: the read's page is dropped, and
 * the new owner's claim, which lands first, must still lead to a read. This is what the 3-node
 * drill hit after a SIGKILL: the takeover claims started reads, the dead node's clients reconnected
 * and the group was rebalanced over the new connections, the channels moved on to another
 * connection of the same node (a claim that lands in a millisecond) while their reads were still
 * waiting on PostgreSQL; the claim's wake-up found them reading, and the read's answer, of an
 * earlier owner, was dropped without one. With no further event of the merchant nothing woke them
 * again (the reconcile sees a head the channel is not known to have reached only once it read it).
 * Here the reads are held deterministically by a lock on the event log's table.
 */
class OwnershipMoveDuringReadIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final int MERCHANTS = 6;
  static final int EVENTS_EACH = 3;

  TestGateway gw;
  StreamFixture fx;

  @BeforeEach
  void start() {
    // Every channel of one connection reads at once, each on its own pooled connection; a read
    // waits on the lock for up to the query timeout (10 s), longer than the test holds it. The
    // control reconcile is put off past the test: its first round would find the app's grants
    // changed since the node's baseline and resync the group, which wakes every channel and would
    // hide a missed wake-up (in the drill the grants are long made when a node is killed).
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_STREAM_MAX_PARALLEL_READS", Integer.toString(MERCHANTS),
                "GATEWAY_PG_DELIVERY_POOL_SIZE", Integer.toString(MERCHANTS),
                "GATEWAY_CONTROL_RECONCILE_INTERVAL_MS", "600000"));
    fx = new StreamFixture(gw);
  }

  @AfterEach
  void stop() {
    try {
      if (fx != null) {
        fx.close();
      }
    } finally {
      if (gw != null) {
        gw.close();
      }
    }
  }

  static Connection jdbc() throws Exception {
    URI u = URI.create(TestServices.pgUrl());
    String[] user = u.getUserInfo().split(":", 2);
    return DriverManager.getConnection(
        "jdbc:postgresql://" + u.getHost() + ":" + u.getPort() + u.getPath(),
        user[0],
        user.length > 1 ? user[1] : "");
  }

  ChannelStates states() {
    return gw.gateway
        .delivery()
        .channelStates()
        .toCompletionStage()
        .toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS)
        .join();
  }

  @Test
  void shouldReadAChannelThatMovedToAnotherConnectionWhileItsReadWasInFlight() throws Exception {
    TestApp app = fx.app("websocket");
    List<String> merchants = fx.merchants("move-read", MERCHANTS);
    merchants.forEach(m -> fx.grant(app, m));
    // Stored before any connection: not in the gateway's tail cache, so read from PostgreSQL. No
    // event comes after, so nothing but the engine itself can wake a channel that missed its read.
    List<JsonObject> events = new ArrayList<>();
    for (String m : merchants) {
      for (int i = 0; i < EVENTS_EACH; i++) {
        events.add(Events.event(m, UUID.randomUUID().toString()));
      }
    }
    assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
    Map<String, Long> heads = new HashMap<>();
    merchants.forEach(m -> heads.put(m, fx.head(m)));

    StreamClient first;
    StreamClient second;
    try (Connection lock = jdbc()) {
      lock.setAutoCommit(false);
      try (Statement st = lock.createStatement()) {
        // Every log read waits while this is held (ingest would too; nothing is ingested now).
        st.execute("LOCK TABLE event_chunks IN ACCESS EXCLUSIVE MODE");
      }
      first = fx.connect(app);
      first.autoAck = true;
      fx.until(
          "every channel claimed by the first connection and reading",
          WAIT,
          () -> first.assigned().size() == MERCHANTS && states().get("reading") == MERCHANTS,
          () -> "assigned " + first.assigned() + ", channels by state " + states());

      second = fx.connect(app);
      second.autoAck = true;
      StreamClient firstRef = first;
      StreamClient secondRef = second;
      fx.until(
          "half the channels moved to the second connection and claimed there",
          WAIT,
          () ->
              secondRef.assigned().size() == MERCHANTS / 2
                  && firstRef.assigned().size() == MERCHANTS / 2
                  && states().get("claiming") == 0,
          () ->
              "first "
                  + firstRef.assigned()
                  + ", second "
                  + secondRef.assigned()
                  + ", channels by state "
                  + states());
      // The moved channels are claimed by the second connection, their reads (of the first) still
      // in flight: the claim's wake-up could not start a read.
      assertThat(states().get("reading")).isEqualTo(MERCHANTS);
      assertThat(second.total()).isZero();
      lock.rollback();
    }

    StreamClient firstRef = first;
    StreamClient secondRef = second;
    fx.until(
        "every merchant delivered up to its head",
        WAIT,
        () ->
            merchants.stream()
                .allMatch(
                    m ->
                        Set.copyOf(firstRef.received().getOrDefault(m, List.of())).size()
                                + Set.copyOf(secondRef.received().getOrDefault(m, List.of())).size()
                            >= heads.get(m)),
        () ->
            "first got "
                + firstRef.received()
                + ", second got "
                + secondRef.received()
                + ", heads "
                + heads
                + ", channels by state "
                + states());
    for (String m : second.assigned()) {
      assertThat(new HashSet<>(second.received().getOrDefault(m, List.of())))
          .as("%s, moved to the second connection", m)
          .hasSize(heads.get(m).intValue());
    }
    fx.until(
        "cursors at the heads",
        WAIT,
        () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == heads.get(m)));
    NoStuckChannels.check(gw);
    fx.checkClients();
  }
}
