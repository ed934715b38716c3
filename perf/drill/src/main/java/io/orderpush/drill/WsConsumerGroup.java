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
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The drill's WebSocket app: a consumer group of {@code n} {@link StreamConsumer}s of the client
 * library, each one connection to {@code /v1/stream}. Every batch goes through {@link EveryEvent}
 * (no deduplication) to the {@link Verifier}, which lives on one Vert.x event loop; the library
 * acks the batch after the verifier took it. A connection must only receive events of merchants
 * assigned to it (the library reports any other as a protocol error); a connection closed by the
 * gateway is an error (the drill never moves channels on purpose).
 */
final class WsConsumerGroup {

  private static final ConsumerOptions OPTIONS =
      ConsumerOptions.builder()
          .parallelism(4)
          .maxMessageChars(64 * 1024 * 1024)
          .connectTimeout(Duration.ofSeconds(10))
          .build();

  private final Context ctx;
  private final URI base;
  private final String appToken;
  private final Verifier verifier;
  private final List<StreamConsumer<Void>> consumers = new CopyOnWriteArrayList<>();
  private volatile boolean closing;

  WsConsumerGroup(Vertx vertx, URI base, String appToken, Verifier verifier) {
    this.ctx = vertx.getOrCreateContext();
    this.base = base;
    this.appToken = appToken;
    this.verifier = verifier;
  }

  /** Opens the connections; completes once each has said hello. */
  Future<Void> connect(int n) {
    Promise<Void> done = Promise.promise();
    AtomicInteger hellos = new AtomicInteger();
    for (int i = 0; i < n; i++) {
      int conn = i;
      consumers.add(
          StreamConsumer.start(
              base,
              appToken,
              EveryEvent.STORE,
              (batch, tx) -> apply(conn, batch),
              OPTIONS,
              new Watch(
                  conn,
                  () -> {
                    if (hellos.incrementAndGet() == n) {
                      done.tryComplete();
                    }
                  })));
    }
    return done.future();
  }

  /** Channels currently assigned over all connections. */
  int assigned() {
    return consumers.stream().mapToInt(c -> c.assigned().size()).sum();
  }

  /** Hands a batch to the verifier on its event loop and waits until it is taken. */
  private void apply(int conn, Batch batch) throws Exception {
    long arrival = Verifier.micros(Instant.now());
    onLoop(
            () -> {
              verifier.messages++;
              Verifier.MerchantState m = verifier.merchant(batch.merchantId());
              if (m != null) {
                for (Event e : batch.events()) {
                  verifier.event(m, e.seq(), e.orderId(), e.type(), e.ingestedAt(), arrival);
                }
              }
              return null;
            })
        .toCompletionStage()
        .toCompletableFuture()
        .get(60, TimeUnit.SECONDS);
  }

  private final class Watch implements ConsumerListener {
    private final int conn;
    private final Runnable hello;

    Watch(int conn, Runnable hello) {
      this.conn = conn;
      this.hello = hello;
    }

    @Override
    public void connected(String connectionId) {
      hello.run();
    }

    @Override
    public void serverError(String code, String message) {
      error("gateway error " + code + ": " + message);
    }

    @Override
    public void protocolError(String what) {
      error(what);
    }

    @Override
    public void batchFailed(Batch batch, Exception e, Duration retryIn) {
      error("applying a batch of " + batch.merchantId() + " failed: " + e);
    }

    @Override
    public void disconnected(String why, Duration reconnectIn) {
      if (!closing) {
        error(why);
      }
    }

    private void error(String what) {
      onLoop(
          () -> {
            verifier.error("connection " + conn + ": " + what);
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
              consumers.forEach(StreamConsumer::close);
              done.complete();
            },
            "drill-ws-close");
    t.setDaemon(true);
    t.start();
    return done.future();
  }
}
