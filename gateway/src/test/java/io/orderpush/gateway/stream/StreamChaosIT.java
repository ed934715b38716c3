package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.stream.StreamFixture.TestApp;
import io.orderpush.gateway.testing.ChaosProxy;
import io.vertx.core.json.JsonArray;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Effectively-once under chaos: an app's connections, all through a {@link ChaosProxy}, end at
 * random points, before and after acking, in three ways: a polite close, an abrupt TCP loss (reset,
 * no close handshake, frames in flight lost), and a stall that leaves the old connection half-alive
 * (the gateway's frames to it vanish, its late acks still arrive) while the next one opens beside
 * it. Events keep arriving throughout; every merchant must be applied exactly once, densely, and
 * nothing may be delivered again at or below what was acked.
 */
class StreamChaosIT {

  static final Duration WAIT = Duration.ofSeconds(60);

  /** How a connection of the app ends. */
  enum Ending {
    POLITE_CLOSE,
    ABRUPT_CUT,
    STALE_OVERLAP
  }

  /**
   * What the app applied over all its connections, as an app that records the last seq it applied
   * per merchant would, and what broke the guarantees. An app processes deliveries one at a time.
   */
  static final class Ledger {
    final Map<String, Long> applied = new HashMap<>();
    final List<String> violations = new ArrayList<>();
    int redeliveries;

    synchronized void apply(Connection via, String m, JsonArray events) {
      for (int i = 0; i < events.size(); i++) {
        long seq = events.getJsonObject(i).getLong("seq");
        long floor = via.floor(m);
        if (seq <= floor) {
          violations.add(
              via + ": " + m + " seq " + seq + " delivered again at or below acked " + floor);
        }
        long last = applied.getOrDefault(m, 0L);
        if (seq == last + 1) {
          applied.put(m, seq);
        } else if (seq <= last) {
          redeliveries++; // legal above the acked cursor: applied already, skipped
        } else {
          violations.add(via + ": " + m + " gap, seq " + seq + " after " + last);
        }
      }
      via.received.put(m, events.getJsonObject(events.size() - 1).getLong("seq"));
    }

    synchronized long applied(String m) {
      return applied.getOrDefault(m, 0L);
    }

    synchronized Map<String, Long> snapshot() {
      return new HashMap<>(applied);
    }
  }

  /** One connection of the app, and the floors below which nothing may reach it. */
  static final class Connection {
    final int number;
    // The stored cursors, read just before it connected: its channels start above them.
    final Map<String, Long> cursorsAtOpen;
    // The highest ack it sent per merchant since the merchant was last assigned to it (guarded by
    // the ledger); an assigned message restarts the channel from the stored cursor.
    final Map<String, Long> acked = new HashMap<>();
    // The last seq it received per merchant (guarded by the ledger).
    final Map<String, Long> received = new HashMap<>();
    // False once the app hung up on it: what still arrives is not processed.
    volatile boolean live = true;
    // Null until connect returns; what the app acks before then is kept in pendingAcks and sent
    // once it is set (guarded by the ledger).
    StreamClient client;
    final Map<String, Long> pendingAcks = new HashMap<>();
    ChaosProxy.Link link;

    Connection(int number, Map<String, Long> cursorsAtOpen) {
      this.number = number;
      this.cursorsAtOpen = cursorsAtOpen;
    }

    long floor(String m) {
      return Math.max(cursorsAtOpen.getOrDefault(m, 0L), acked.getOrDefault(m, 0L));
    }

    /** Acks what this connection received and the app applied (guarded by the ledger). */
    void ack(Ledger ledger, String m, long seq) {
      long upTo = Math.min(seq, ledger.applied.getOrDefault(m, 0L));
      if (upTo > 0 && client == null) {
        pendingAcks.merge(m, upTo, Math::max);
      } else if (upTo > 0) {
        acked.merge(m, upTo, Math::max);
        try {
          client.ack(m, upTo);
        } catch (IllegalStateException closed) {
          // the socket is gone; so is the ack, as on a real network
        }
      }
    }

    @Override
    public String toString() {
      return "connection " + number;
    }
  }

  @Test
  void shouldApplyEveryMerchantExactlyOnceThroughCutsStallsAndOverlappingConnections()
      throws Exception {
    try (TestGateway gw =
            TestGateway.start(
                Map.of(
                    // a half-alive connection is given up after 2 s of silence
                    "GATEWAY_STREAM_PING_INTERVAL_MS", "250",
                    "GATEWAY_STREAM_IDLE_TIMEOUT_MS", "2000",
                    // -Dchaos.pg.writers=1: the same chaos with one group commit in flight
                    "GATEWAY_PG_WRITERS", System.getProperty("chaos.pg.writers", "2")));
        StreamFixture fx = new StreamFixture(gw);
        ChaosProxy proxy = ChaosProxy.start(fx.vertx, "127.0.0.1", gw.port)) {
      TestApp app = fx.app("websocket");
      List<String> merchants = fx.merchants("chaos", 10);
      merchants.forEach(m -> fx.grant(app, m));
      Ledger ledger = new Ledger();
      Random chaos = new Random(fx.seed * 31 + 1);
      Random acks = new Random(fx.seed * 31 + 2); // used under the ledger's lock only

      ExecutorService marketplace = Executors.newSingleThreadExecutor();
      Future<?> ingest =
          marketplace.submit(
              () -> {
                for (int i = 0; i < 60; i++) {
                  fx.ingest(merchants, 250, 50);
                }
                return null;
              });

      List<Ending> firstEndings = new ArrayList<>(List.of(Ending.values()));
      java.util.Collections.shuffle(firstEndings, chaos);
      Map<Ending, Integer> endings = new EnumMap<>(Ending.class);
      Connection stale = null;
      int rounds = 0;
      while (!ingest.isDone() || rounds < 6) {
        rounds++;
        double ackChance = chaos.nextDouble();
        Connection c = open(fx, proxy, app, merchants, ledger, rounds, ackChance, acks);
        if (stale != null) {
          // The half-alive connection's late acks of what it received: accepted while it still
          // holds its channels, refused once they moved; either way nothing may go backwards.
          boolean early = chaos.nextBoolean();
          if (early) {
            staleAcks(ledger, stale);
          }
          awaitRound(fx, ledger, merchants, ingest, c, chaos.nextInt(50, 1500));
          if (!early) {
            staleAcks(ledger, stale);
          }
          if (chaos.nextBoolean()) {
            stale.link.cut(); // else the gateway gives up on it by itself
          }
          stale = null;
        } else {
          awaitRound(fx, ledger, merchants, ingest, c, chaos.nextInt(50, 1500));
        }
        Ending ending =
            rounds <= firstEndings.size()
                ? firstEndings.get(rounds - 1)
                : Ending.values()[chaos.nextInt(Ending.values().length)];
        endings.merge(ending, 1, Integer::sum);
        boolean ackAllFirst = chaos.nextBoolean();
        synchronized (ledger) {
          if (ackAllFirst) {
            c.received.forEach((m, seq) -> c.ack(ledger, m, seq));
          }
          c.live = false;
        }
        switch (ending) {
          case POLITE_CLOSE -> c.client.close();
          case ABRUPT_CUT -> c.link.cut();
          case STALE_OVERLAP -> {
            c.link.stallDownstream();
            stale = c;
          }
        }
      }
      ingest.get(2, TimeUnit.MINUTES);
      marketplace.shutdown();
      if (stale != null) {
        stale.link.cut();
      }

      Connection last = open(fx, proxy, app, merchants, ledger, rounds + 1, 1.0, acks);
      fx.until(
          "everything applied",
          WAIT,
          () -> caughtUp(fx, ledger, merchants),
          () -> ledger.snapshot().toString());
      fx.until(
          "cursors at the heads",
          WAIT,
          () -> merchants.stream().allMatch(m -> fx.cursor(app, m) == fx.head(m)));
      last.client.close();

      System.out.printf(
          "chaos (seed %d, pg.writers %s): %d connections, endings %s, %d events redelivered"
              + " above the cursor%n",
          fx.seed,
          System.getProperty("chaos.pg.writers", "2"),
          rounds + 1,
          endings,
          ledger.redeliveries);
      synchronized (ledger) {
        assertThat(ledger.violations).as("seed %d", fx.seed).isEmpty();
      }
      Map<String, Long> heads = new HashMap<>();
      merchants.forEach(m -> heads.put(m, fx.head(m)));
      assertThat(ledger.snapshot()).as("seed %d", fx.seed).isEqualTo(heads);
      assertThat(heads.values().stream().mapToLong(Long::longValue).sum()).isEqualTo(15_000);
      assertThat(endings.keySet()).containsExactlyInAnyOrder(Ending.values());
      assertThat(rounds).isGreaterThanOrEqualTo(6);
    }
  }

  /** Opens the app's next connection through the proxy, applying and (by chance) acking. */
  static Connection open(
      StreamFixture fx,
      ChaosProxy proxy,
      TestApp app,
      List<String> merchants,
      Ledger ledger,
      int number,
      double ackChance,
      Random acks) {
    Map<String, Long> cursors = new HashMap<>();
    merchants.forEach(m -> cursors.put(m, fx.cursor(app, m)));
    Connection c = new Connection(number, cursors);
    StreamClient client =
        fx.connect(
            app,
            proxy.port(),
            (m, events) -> {
              synchronized (ledger) {
                if (!c.live) {
                  return;
                }
                ledger.apply(c, m, events);
                if (acks.nextDouble() < ackChance) {
                  c.ack(ledger, m, c.received.get(m));
                }
              }
            },
            assigned -> {
              synchronized (ledger) {
                assigned.forEach(c.acked::remove);
              }
            });
    synchronized (ledger) {
      c.client = client;
      // What the app wanted to ack before the handle existed goes out now; dropped, a connection
      // that got everything at once would leave its window unacked until the ack timeout.
      c.pendingAcks.forEach((m, seq) -> c.ack(ledger, m, seq));
      c.pendingAcks.clear();
    }
    c.link =
        proxy
            .link(c.client.localPort())
            .orElseThrow(() -> new AssertionError("the proxy did not see " + c));
    return c;
  }

  static void awaitRound(
      StreamFixture fx,
      Ledger ledger,
      List<String> merchants,
      Future<?> ingest,
      Connection c,
      int goal) {
    fx.until(
        "some events for " + c,
        WAIT,
        () ->
            c.client.total() >= goal
                || ingest.isDone() && c.client.total() > 0
                || ingest.isDone() && caughtUp(fx, ledger, merchants),
        () -> "applied " + ledger.snapshot());
  }

  static void staleAcks(Ledger ledger, Connection stale) {
    synchronized (ledger) {
      stale.received.forEach((m, seq) -> stale.ack(ledger, m, seq));
    }
  }

  static boolean caughtUp(StreamFixture fx, Ledger ledger, List<String> merchants) {
    return merchants.stream().allMatch(m -> ledger.applied(m) == fx.head(m));
  }
}
