package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.vertx.core.json.JsonArray;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Effectively-once under chaos: a consumer whose connection is cut at random points, before and
 * after it acks, reconnects again and again while events keep arriving.
 */
class StreamChaosIT {

  static final Duration WAIT = Duration.ofSeconds(60);

  /** What the consumer applied, as an app that records the last seq it applied would. */
  static final class Ledger {
    final Map<String, Long> applied = new ConcurrentHashMap<>();
    final Map<String, Long> floor = new ConcurrentHashMap<>();
    final List<String> violations = new CopyOnWriteArrayList<>();
    final AtomicInteger redeliveries = new AtomicInteger();

    // An app processes its deliveries one at a time.
    synchronized void apply(String m, JsonArray events) {
      for (int i = 0; i < events.size(); i++) {
        long seq = events.getJsonObject(i).getLong("seq");
        long last = applied.getOrDefault(m, 0L);
        if (seq <= floor.getOrDefault(m, 0L)) {
          violations.add(
              m + ": seq " + seq + " delivered again at or below the acked cursor " + floor.get(m));
        }
        if (seq == last + 1) {
          applied.put(m, seq);
        } else if (seq <= last) {
          redeliveries.incrementAndGet();
        } else {
          violations.add(m + ": gap, seq " + seq + " after " + last);
        }
      }
    }
  }

  @Test
  void shouldApplyEveryMerchantExactlyOnceThroughRandomDisconnects() throws Exception {
    try (TestGateway gw = TestGateway.start(Map.of());
        StreamFixture fx = new StreamFixture(gw)) {
      TestApp app = fx.app("websocket");
      List<String> merchants = fx.merchants("chaos", 10);
      merchants.forEach(m -> fx.grant(app, m));
      Ledger ledger = new Ledger();

      ExecutorService marketplace = Executors.newSingleThreadExecutor();
      Future<?> ingest =
          marketplace.submit(
              () -> {
                for (int i = 0; i < 60; i++) {
                  fx.ingest(merchants, 250, 50);
                }
                return null;
              });

      ThreadLocalRandom random = ThreadLocalRandom.current();
      int rounds = 0;
      while (!ingest.isDone() || rounds < 5) {
        rounds++;
        // While no connection is open, the stored cursors are what was acked for good.
        for (String m : merchants) {
          ledger.floor.put(m, fx.cursor(app, m));
        }
        double ackChance = random.nextDouble();
        java.util.concurrent.atomic.AtomicBoolean cut =
            new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicReference<StreamClient> self =
            new java.util.concurrent.atomic.AtomicReference<>();
        StreamClient c =
            StreamFixture.join(
                StreamClient.connect(
                    fx.vertx,
                    gw.port,
                    app.token(),
                    (m, events) -> {
                      // Once the app decides to hang up it processes nothing more from this
                      // connection,
                      // although frames already on the wire may still arrive while the close
                      // completes.
                      if (cut.get()) {
                        return;
                      }
                      ledger.apply(m, events);
                      StreamClient me =
                          self.get(); // null only for messages that beat connect() returning
                      if (me != null && ThreadLocalRandom.current().nextDouble() < ackChance) {
                        me.ack(m, ledger.applied.get(m));
                      }
                    }));
        self.set(c);
        int goal = random.nextInt(50, 1500);
        Await.until(
            "some events this round",
            WAIT,
            () ->
                c.total() >= goal
                    || ingest.isDone() && c.total() > 0
                    || ingest.isDone() && caughtUp(fx, ledger, merchants));
        synchronized (ledger) {
          if (random.nextBoolean()) {
            ledger.applied.forEach(c::ack); // cut right after acking everything applied
          }
          cut.set(true);
        }
        c.close();
        Await.until("the gateway to let go of the connection", WAIT, () -> openStreams(gw) == 0);
      }
      ingest.get(2, TimeUnit.MINUTES);
      marketplace.shutdown();

      for (String m : merchants) {
        ledger.floor.put(m, fx.cursor(app, m));
      }
      java.util.concurrent.atomic.AtomicReference<StreamClient> finalClient =
          new java.util.concurrent.atomic.AtomicReference<>();
      StreamClient last =
          StreamFixture.join(
              StreamClient.connect(
                  fx.vertx,
                  gw.port,
                  app.token(),
                  (m, events) -> {
                    ledger.apply(m, events);
                    if (finalClient.get() != null) {
                      finalClient.get().ack(m, ledger.applied.get(m));
                    }
                  }));
      finalClient.set(last);
      Await.until(
          "everything applied",
          WAIT,
          () -> caughtUp(fx, ledger, merchants),
          () -> ledger.applied.toString());
      Await.until(
          "cursors at the heads",
          WAIT,
          () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == fx.head(m)));
      last.close();

      System.out.printf(
          "chaos: %d connections, %d events redelivered above the cursor%n",
          rounds + 1, ledger.redeliveries.get());
      assertThat(ledger.violations).isEmpty();
      Map<String, Long> heads = new HashMap<>();
      merchants.forEach(m -> heads.put(m, fx.head(m)));
      assertThat(ledger.applied).isEqualTo(heads);
      assertThat(heads.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(15_000);
      assertThat(rounds).isGreaterThanOrEqualTo(5);
    }
  }

  static boolean caughtUp(StreamFixture fx, Ledger ledger, List<String> merchants) {
    return merchants.stream().allMatch(m -> ledger.applied.getOrDefault(m, 0L) == fx.head(m));
  }

  static int openStreams(TestGateway gw) {
    String metrics = gw.send("GET", "/metrics", null, null).body();
    for (String line : metrics.split("\n")) {
      if (line.startsWith("gateway_stream_connections ")) {
        return (int) Double.parseDouble(line.substring(line.indexOf(' ') + 1));
      }
    }
    throw new AssertionError("gateway_stream_connections not in /metrics");
  }
}
