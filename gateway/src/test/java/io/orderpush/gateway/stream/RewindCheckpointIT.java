package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.TestGateway;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A rewind's checkpoint in PostgreSQL is not written over by cursor moves acked before it: not by
 * the channel's present connection, nor by the one it had before the app reconnected, whose acks
 * may still wait for the next checkpoint round when the rewind comes.
 */
class RewindCheckpointIT {

  static final Duration WAIT = Duration.ofSeconds(30);
  static final Duration INTERVAL = Duration.ofSeconds(3);
  static TestGateway gw;
  static StreamFixture fx;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_DELIVERY_CHECKPOINT_INTERVAL_MS",
                Long.toString(INTERVAL.toMillis()),
                "GATEWAY_STREAM_WINDOW",
                "100"));
    fx = new StreamFixture(gw);
  }

  @AfterAll
  static void stop() {
    fx.close();
    gw.close();
  }

  @Test
  void shouldKeepARewindsCheckpointOverAcksOfTheConnectionTheAppHadBeforeItReconnected()
      throws Exception {
    // The scenario needs the rewind to come before the checkpoint round that would write the
    // earlier connection's ack: tried again, on another merchant, if that round came first.
    for (int attempt = 0; attempt < 5; attempt++) {
      var app = fx.app("websocket");
      String m = fx.merchants("rewind-ckpt", 1).get(0);
      fx.grant(app, m);
      StreamClient first = fx.connect(app);
      fx.until("assigned", WAIT, () -> first.assigned().contains(m));
      fx.ingest(List.of(m), 50, 50);
      fx.until("50 events", WAIT, () -> first.count(m) == 50);
      long before = fx.checkpoint(app, m);
      first.ack(m, 50);
      fx.until("cursor 50", WAIT, () -> fx.cursor(app, m) == 50);
      first.close();
      StreamClient second = fx.connect(app);
      fx.until("assigned again", WAIT, () -> second.assigned().contains(m));
      HttpResponse<String> r =
          gw.send("PUT", "/v1/channels/" + m + "/cursor", app.token(), "{\"seq\": 10}");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
      if (fx.checkpoint(app, m) != 10 || before == 50) {
        second.close();
        continue; // a checkpoint round came between the ack and the rewind: not this scenario
      }
      // two checkpoint rounds
      Thread.sleep(2 * INTERVAL.toMillis() + 500);
      assertThat(fx.checkpoint(app, m))
          .as("PostgreSQL's checkpoint after the rewind to 10 and two rounds")
          .isLessThanOrEqualTo(10);
      assertThat(fx.cursor(app, m)).isEqualTo(10);
      second.close();
      return;
    }
    throw new AssertionError("a checkpoint round came before the rewind in every attempt");
  }
}
