package io.orderpush.drill;

import io.orderpush.client.Batch;
import io.orderpush.client.ConsumerListener;
import io.orderpush.client.ConsumerOptions;
import io.orderpush.client.Event;
import io.orderpush.client.StreamConsumer;
import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The drill's WebSocket app: a consumer group of {@code n} {@link StreamConsumer}s of the client
 * library, each one connection to {@code /v1/stream}, spread round robin over the gateway nodes.
 * Every batch goes through {@link EveryEvent} (no deduplication) to the {@link Verifier}, which
 * lives on one Vert.x event loop, with the delivery stream it came on (the connection's current
 * assignment of the merchant); the library acks the batch after the verifier took it, and the ack
 * is reported to the verifier. A connection must only receive events of merchants assigned to it
 * (the library reports any other as a protocol error).
 *
 * <p>A connection closed by the gateway is an error, except one to a node the drill killed. With
 * several nodes, a consumer whose connection closes is replaced by one connected to the next live
 * node (as an ISV's consumer behind a load balancer would land elsewhere); with one node the
 * library reconnects to it. An ack refused with {@code not_assigned} (it crossed a move of the
 * channel) is counted, not an error.
 */
final class WsConsumerGroup {

  private static final ConsumerOptions OPTIONS =
      ConsumerOptions.builder()
          .parallelism(4)
          .maxMessageChars(64 * 1024 * 1024)
          .connectTimeout(Duration.ofSeconds(10))
          .build();

  private final Vertx vertx;
  private final Context ctx;
  private final List<URI> bases;
  private final String appToken;
  private final Verifier verifier;
  private final List<Slot> slots = new CopyOnWriteArrayList<>();
  private final AtomicLong streams = new AtomicLong();

  /** Delivery streams whose connection was told {@code unassigned} for their merchant. */
  private final java.util.Set<Long> revoked = java.util.concurrent.ConcurrentHashMap.newKeySet();

  private volatile boolean closing;

  /** The node (index into the bases) the drill killed, or -1. */
  private volatile int killedNode = -1;

  WsConsumerGroup(Vertx vertx, URI base, String appToken, Verifier verifier) {
    this(vertx, List.of(base), appToken, verifier);
  }

  WsConsumerGroup(Vertx vertx, List<URI> bases, String appToken, Verifier verifier) {
    this.vertx = vertx;
    this.ctx = vertx.getOrCreateContext();
    this.bases = List.copyOf(bases);
    this.appToken = appToken;
    this.verifier = verifier;
  }

  /** One member of the group: its consumer now, and the node it is connected to. */
  private final class Slot {
    final int index;
    volatile int node;
    volatile StreamConsumer<Void> consumer;

    /** Per merchant, the delivery stream of this consumer's current assignment. */
    volatile Map<String, Long> assignment = new ConcurrentHashMap<>();

    Slot(int index, int node) {
      this.index = index;
      this.node = node;
    }

    void start(Runnable hello) {
      Map<String, Long> current = new ConcurrentHashMap<>();
      assignment = current;
      consumer =
          StreamConsumer.start(
              bases.get(node),
              appToken,
              EveryEvent.STORE,
              (batch, tx) -> apply(current, batch),
              OPTIONS,
              new Watch(this, node, current, hello));
    }
  }

  /** Opens the connections; completes once each has said hello. */
  Future<Void> connect(int n) {
    Promise<Void> done = Promise.promise();
    AtomicInteger hellos = new AtomicInteger();
    for (int i = 0; i < n; i++) {
      Slot slot = new Slot(i, i % bases.size());
      slots.add(slot);
      slot.start(
          () -> {
            if (hellos.incrementAndGet() == n) {
              done.tryComplete();
            }
          });
    }
    return done.future();
  }

  /** Channels currently assigned over all connections. */
  int assigned() {
    return slots.stream().mapToInt(s -> s.consumer.assigned().size()).sum();
  }

  /** Channels assigned to at least one connection. */
  int distinctAssigned() {
    java.util.Set<String> all = new java.util.HashSet<>();
    slots.forEach(s -> all.addAll(s.consumer.assigned()));
    return all.size();
  }

  /** Connections per node (index into the bases) now. */
  int[] connectionsPerNode() {
    int[] per = new int[bases.size()];
    slots.forEach(s -> per[s.node]++);
    return per;
  }

  /** Channels held per node (index into the bases) now. */
  int[] channelsPerNode() {
    int[] per = new int[bases.size()];
    slots.forEach(s -> per[s.node] += s.consumer.assigned().size());
    return per;
  }

  /** The drill killed node {@code node}: connections to it are expected to close. */
  void killed(int node) {
    killedNode = node;
  }

  /** Hands a batch to the verifier on its event loop and waits until it is taken. */
  private void apply(Map<String, Long> assignment, Batch batch) throws Exception {
    long arrival = Verifier.micros(Instant.now());
    long stream = assignment.getOrDefault(batch.merchantId(), Long.MAX_VALUE);
    // The library hands over a batch only while its merchant is assigned to the connection: one
    // whose stream was revoked before this call was handed over after the connection read
    // `unassigned` (the gateway sent it after the revoke, or the library did not drop it).
    boolean afterRevoke = revoked.contains(stream);
    onLoop(
            () -> {
              verifier.messages++;
              Verifier.MerchantState m = verifier.merchant(batch.merchantId());
              if (m != null) {
                for (Event e : batch.events()) {
                  verifier.event(
                      m,
                      e.seq(),
                      e.orderId(),
                      e.type(),
                      e.ingestedAt(),
                      arrival,
                      stream,
                      afterRevoke);
                }
              }
              return null;
            })
        .toCompletionStage()
        .toCompletableFuture()
        .get(60, TimeUnit.SECONDS);
  }

  private final class Watch implements ConsumerListener {
    private final Slot slot;
    private final int node;
    private final Map<String, Long> assignment;
    private final Runnable hello;
    private final AtomicBoolean replaced = new AtomicBoolean();

    Watch(Slot slot, int node, Map<String, Long> assignment, Runnable hello) {
      this.slot = slot;
      this.node = node;
      this.assignment = assignment;
      this.hello = hello;
    }

    @Override
    public void connected(String connectionId) {
      hello.run();
    }

    @Override
    public void assigned(List<String> merchants) {
      merchants.forEach(m -> assignment.put(m, streams.incrementAndGet()));
    }

    @Override
    public void unassigned(List<String> merchants) {
      List<Long> ended = new ArrayList<>();
      for (String m : merchants) {
        Long stream = assignment.get(m);
        if (stream != null) {
          revoked.add(stream);
          ended.add(stream);
        }
      }
      onLoop(
          () -> {
            ended.forEach(verifier::ended);
            return null;
          });
    }

    @Override
    public void acked(String merchantId, long seq) {
      if (node == killedNode) {
        // Sent to a node being killed (a consumer behind acks what that node sent before it died,
        // seconds later): never stored, so not a cursor the takeover must respect. The stored
        // cursors read after the kill tell the verifier what is (Verifier.storedAtKill).
        return;
      }
      long at = System.currentTimeMillis();
      onLoop(
          () -> {
            Verifier.MerchantState m = verifier.merchant(merchantId);
            if (m != null) {
              verifier.acked(m, seq, at);
            }
            return null;
          });
    }

    @Override
    public void serverError(String code, String message) {
      if ("not_assigned".equals(code)) {
        onLoop(() -> verifier.refusedAcks++);
        return;
      }
      error("gateway error " + code + ": " + message);
    }

    @Override
    public void protocolError(String what) {
      error(what);
    }

    @Override
    public void batchFailed(Batch batch, Exception e, Duration retryIn) {
      if (!replaced.get()) {
        error("applying a batch of " + batch.merchantId() + " failed: " + e);
      }
    }

    @Override
    public void disconnected(String why, Duration reconnectIn) {
      // every stream of this connection ended with it (batches read before may still come)
      List<Long> ended = new ArrayList<>(assignment.values());
      onLoop(
          () -> {
            ended.forEach(verifier::ended);
            return null;
          });
      if (closing || reconnectIn == null || replaced.get()) {
        return;
      }
      boolean expected = node == killedNode;
      onLoop(() -> verifier.reconnects++);
      if (!expected) {
        error(why);
      }
      if (bases.size() > 1 && replaced.compareAndSet(false, true)) {
        // Another node, as a load balancer would pick: this consumer stops (its reconnect
        // timer with it) and a new one connects to the next live node.
        StreamConsumer<Void> old = slot.consumer;
        old.abort();
        int next = node;
        do {
          next = (next + 1) % bases.size();
        } while (next == killedNode && next != node);
        int to = next;
        vertx.setTimer(
            Math.max(1, reconnectIn.toMillis()),
            id -> {
              if (!closing) {
                slot.node = to;
                slot.start(() -> {});
              }
            });
      }
    }

    private void error(String what) {
      onLoop(
          () -> {
            verifier.error("connection " + slot.index + " (node " + (node + 1) + "): " + what);
            return null;
          });
    }
  }

  /** Runs {@code task} on the group's event loop (where the verifier's state lives). */
  <T> Future<T> onLoop(Callable<T> task) {
    Promise<T> p = Promise.promise();
    ctx.runOnContext(
        v -> {
          try {
            p.complete(task.call());
          } catch (Exception e) {
            p.fail(e);
          }
        });
    return p.future();
  }

  /** Closes every connection, acking what was applied. */
  Future<Void> close() {
    closing = true;
    Promise<Void> done = Promise.promise();
    Thread t =
        new Thread(
            () -> {
              slots.forEach(s -> s.consumer.close());
              done.complete();
            },
            "drill-ws-close");
    t.setDaemon(true);
    t.start();
    return done.future();
  }
}
