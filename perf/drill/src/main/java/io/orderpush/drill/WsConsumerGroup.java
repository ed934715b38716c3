package io.orderpush.drill;

import io.vertx.core.Context;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import java.io.IOException;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The drill's WebSocket app: a consumer group of {@code n} connections to {@code /v1/stream}, all
 * on one event loop. It applies each {@code events} message through its {@link Verifier} and acks
 * the message's last seq right after, as docs/websocket.md asks of a client. A connection must only
 * receive events of merchants assigned to it; a connection closed by the server is an error (the
 * drill never moves channels on purpose).
 */
final class WsConsumerGroup {

  private final Context ctx;
  private final WebSocketClient client;
  private final WebSocketConnectOptions connect;
  private final Verifier verifier;
  private final Delivery delivery = new Delivery();
  private final List<WebSocket> sockets = new ArrayList<>();
  private final List<Set<String>> owned = new ArrayList<>();
  private volatile int assigned;
  private boolean closing;

  WsConsumerGroup(Vertx vertx, URI base, String appToken, Verifier verifier) {
    this.ctx = vertx.getOrCreateContext();
    this.verifier = verifier;
    this.client =
        vertx.createWebSocketClient(
            new WebSocketClientOptions()
                .setMaxFrameSize(16 * 1024 * 1024)
                .setMaxMessageSize(64 * 1024 * 1024)
                .setMaxConnections(64)
                .setConnectTimeout(10_000));
    this.connect =
        new WebSocketConnectOptions()
            .setHost(base.getHost())
            .setPort(base.getPort())
            .setURI("/v1/stream")
            .putHeader("Authorization", "Bearer " + appToken)
            .setTimeout(10_000);
  }

  /** Opens the connections one after the other. */
  Future<Void> connect(int n) {
    Promise<Void> done = Promise.promise();
    ctx.runOnContext(v -> connectFrom(0, n, done));
    return done.future();
  }

  /** Channels currently assigned over all connections. */
  int assigned() {
    return assigned;
  }

  private void connectFrom(int i, int n, Promise<Void> done) {
    if (i == n) {
      done.complete();
      return;
    }
    Set<String> mine = new HashSet<>();
    owned.add(mine);
    client
        .connect(connect)
        .onComplete(
            ar -> {
              if (ar.failed()) {
                done.fail(ar.cause());
                return;
              }
              WebSocket ws = ar.result();
              sockets.add(ws);
              ws.textMessageHandler(text -> onText(i, ws, mine, text));
              ws.closeHandler(
                  x -> {
                    if (!closing) {
                      verifier.error(
                          "connection "
                              + i
                              + " closed by the gateway: "
                              + ws.closeStatusCode()
                              + " "
                              + ws.closeReason());
                    }
                  });
              connectFrom(i + 1, n, done);
            });
  }

  private void onText(int conn, WebSocket ws, Set<String> mine, String text) {
    long arrival = Verifier.micros(Instant.now());
    verifier.messages++;
    try {
      delivery.parse(text);
    } catch (IOException | RuntimeException e) {
      verifier.error("connection " + conn + ": unparsable message (" + e.getMessage() + ")");
      return;
    }
    switch (delivery.type == null ? "" : delivery.type) {
      case "hello" -> {}
      case "assigned" ->
          delivery.merchants.forEach(
              m -> {
                if (mine.add(m)) {
                  assigned++;
                }
              });
      case "unassigned" ->
          delivery.merchants.forEach(
              m -> {
                if (mine.remove(m)) {
                  assigned--;
                }
              });
      case "events" -> events(conn, ws, mine, arrival);
      case "error" -> verifier.error("connection " + conn + ": gateway error " + delivery.message);
      default -> verifier.error("connection " + conn + ": unknown message type " + delivery.type);
    }
  }

  private void events(int conn, WebSocket ws, Set<String> mine, long arrival) {
    Delivery d = delivery;
    if (!mine.contains(d.merchantId)) {
      verifier.error(
          "connection " + conn + ": events of merchant " + d.merchantId + ", not assigned to it");
      return;
    }
    Verifier.MerchantState m = verifier.merchant(d.merchantId);
    if (m == null || d.count == 0) {
      return;
    }
    for (int i = 0; i < d.count; i++) {
      verifier.event(m, d.seqs[i], d.orderIds[i], d.types[i], d.ats[i], arrival);
    }
    ws.writeTextMessage(
        "{\"type\":\"ack\",\"merchantId\":\""
            + d.merchantId
            + "\",\"seq\":"
            + d.seqs[d.count - 1]
            + "}");
  }

  /** Runs {@code task} on the group's event loop (where the verifier's state lives). */
  <T> Future<T> onLoop(java.util.concurrent.Callable<T> task) {
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

  Future<Void> close() {
    return onLoop(
            () -> {
              closing = true;
              sockets.forEach(ws -> ws.close((short) 1000, "drill done"));
              return null;
            })
        .mapEmpty();
  }
}
