package io.orderpush.gateway.stream;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.WebSocket;
import io.vertx.core.http.WebSocketClient;
import io.vertx.core.http.WebSocketClientOptions;
import io.vertx.core.http.WebSocketConnectOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * A real WebSocket consumer for tests: records what it is sent and acks when told to.
 *
 * <p>Its handlers run on a Vert.x event loop, where a thrown exception would be lost. Instead the
 * first failure (an unexpected message, an exception in {@code onEvents}) is recorded, and every
 * accessor a test polls or asserts on ({@link #count}, {@link #total}, {@link #assigned()}, {@link
 * #received()}, {@link #check()}) rethrows it, so the test fails with the handler's own message
 * rather than a timeout.
 */
public final class StreamClient {

  final WebSocket ws;
  // Held as long as the connection: Vert.x closes a client, and its connections, once unreachable.
  private final WebSocketClient client;
  private final Map<String, List<Long>> received = new ConcurrentHashMap<>();
  private final Set<String> assigned = ConcurrentHashMap.newKeySet();

  /** The number of the last {@code assigned} message naming each merchant. */
  private final Map<String, Long> assignment = new ConcurrentHashMap<>();

  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  final Map<String, List<String>> eventIds = new ConcurrentHashMap<>();
  final List<JsonObject> errors = new CopyOnWriteArrayList<>();

  /**
   * Merchants this connection was told {@code unassigned}: an auto ack sent before that message
   * arrived is answered {@code not_assigned}, which is the protocol working, not a fault.
   */
  final Set<String> unassigned = ConcurrentHashMap.newKeySet();

  final List<JsonObject> messages = new CopyOnWriteArrayList<>();
  volatile JsonObject hello;
  volatile boolean autoAck;

  /** Merchants the auto ack leaves unacked, for a consumer stuck on some channels only. */
  final Set<String> holdAcks = ConcurrentHashMap.newKeySet();

  public volatile boolean closed;

  /** Called with (merchantId, events) for every events message, before any auto ack. */
  private final BiConsumer<String, JsonArray> onEvents;

  /** Called with the merchants of every {@code assigned} message, in order with the events. */
  private final Consumer<List<String>> onAssigned;

  private StreamClient(
      WebSocketClient client,
      WebSocket ws,
      BiConsumer<String, JsonArray> onEvents,
      Consumer<List<String>> onAssigned) {
    this.client = client;
    this.ws = ws;
    this.onEvents = onEvents;
    this.onAssigned = onAssigned;
    ws.textMessageHandler(this::onMessage);
    // Transport errors (a reset connection) are the network's doing, not the test's: they only
    // close the connection, which tests observe through {@link #closed}.
    ws.exceptionHandler(err -> {});
    ws.closeHandler(v -> closed = true);
  }

  static Future<StreamClient> connect(Vertx vertx, int port, String token) {
    return connect(vertx, port, token, (m, e) -> {});
  }

  /** Connects with {@code onEvents} in place before the first message can arrive. */
  public static Future<StreamClient> connect(
      Vertx vertx, int port, String token, BiConsumer<String, JsonArray> onEvents) {
    return connect(vertx, port, token, onEvents, m -> {});
  }

  /** Connects with both callbacks in place before the first message can arrive. */
  static Future<StreamClient> connect(
      Vertx vertx,
      int port,
      String token,
      BiConsumer<String, JsonArray> onEvents,
      Consumer<List<String>> onAssigned) {
    WebSocketClient client =
        vertx.createWebSocketClient(
            new WebSocketClientOptions()
                .setMaxMessageSize(64 * 1024 * 1024)
                .setMaxFrameSize(1024 * 1024)
                .setConnectTimeout(5000));
    WebSocketConnectOptions options =
        new WebSocketConnectOptions().setHost("127.0.0.1").setPort(port).setURI("/v1/stream");
    if (token != null) {
      options.addHeader("Authorization", "Bearer " + token);
    }
    return client.connect(options).map(ws -> new StreamClient(client, ws, onEvents, onAssigned));
  }

  static StreamClient open(Vertx vertx, int port, String token) {
    return connect(vertx, port, token)
        .toCompletionStage()
        .toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS)
        .join();
  }

  private void onMessage(String text) {
    try {
      handle(text);
    } catch (Throwable t) {
      fail(
          new IllegalStateException(
              "stream client failed handling " + abbreviate(text) + ": " + t, t));
    }
  }

  private void handle(String text) {
    JsonObject msg = new JsonObject(text);
    messages.add(msg);
    switch (String.valueOf(msg.getString("type"))) {
      case "hello" -> hello = msg;
      case "assigned" -> {
        List<String> merchants =
            msg.getJsonArray("merchants").stream().map(m -> (String) m).toList();
        assigned.addAll(merchants);
        merchants.forEach(m -> assignment.put(m, msg.getLong("assignment")));
        onAssigned.accept(merchants);
      }
      case "unassigned" ->
          msg.getJsonArray("merchants")
              .forEach(
                  m -> {
                    assigned.remove(m);
                    unassigned.add((String) m);
                  });
      case "error" -> errors.add(msg);
      case "events" -> {
        String m = msg.getString("merchantId");
        JsonArray events = msg.getJsonArray("events");
        List<Long> seqs = received.computeIfAbsent(m, k -> new CopyOnWriteArrayList<>());
        List<String> ids = eventIds.computeIfAbsent(m, k -> new CopyOnWriteArrayList<>());
        for (int i = 0; i < events.size(); i++) {
          seqs.add(events.getJsonObject(i).getLong("seq"));
          ids.add(events.getJsonObject(i).getString("eventId"));
        }
        onEvents.accept(m, events);
        if (autoAck && !holdAcks.contains(m)) {
          ack(m, events.getJsonObject(events.size() - 1).getLong("seq"));
        }
      }
      default -> throw new IllegalStateException("unexpected message type");
    }
  }

  /**
   * The errors the gateway sent, less {@code not_assigned} answers to acks that crossed an earlier
   * {@code unassigned} of the same merchant on the wire.
   */
  List<JsonObject> faults() {
    return errors.stream()
        .filter(
            e ->
                !("not_assigned".equals(e.getString("code"))
                    && unassigned.contains(e.getString("merchantId"))))
        .toList();
  }

  /** Records the first failure of a handler; later ones add nothing the first did not say. */
  void fail(Throwable t) {
    failure.compareAndSet(null, t);
  }

  /** The first failure recorded in a handler, or null. */
  Throwable failure() {
    return failure.get();
  }

  /** Throws the first failure recorded in a handler, so it fails the test with its own message. */
  void check() {
    Throwable t = failure.get();
    if (t != null) {
      // A new error each time: the same one thrown twice (a poll, then close() in a
      // try-with-resources) would fail as "Self-suppression not permitted", hiding the message.
      throw new AssertionError(t.getMessage(), t);
    }
  }

  public void ack(String merchantId, long seq) {
    ws.writeTextMessage(
        new JsonObject().put("type", "ack").put("merchantId", merchantId).put("seq", seq).encode());
  }

  /** An ack that names the {@code assigned} message it answers. */
  void ack(String merchantId, long seq, long assignment) {
    ws.writeTextMessage(
        new JsonObject()
            .put("type", "ack")
            .put("merchantId", merchantId)
            .put("seq", seq)
            .put("assignment", assignment)
            .encode());
  }

  /** The number of the last {@code assigned} message that named the merchant, or 0. */
  long assignment(String merchantId) {
    check();
    return assignment.getOrDefault(merchantId, 0L);
  }

  int count(String merchantId) {
    check();
    return received.getOrDefault(merchantId, List.of()).size();
  }

  int total() {
    check();
    return received.values().stream().mapToInt(List::size).sum();
  }

  /** The seqs received per merchant, in arrival order. */
  Map<String, List<Long>> received() {
    check();
    return received;
  }

  /** The merchants currently assigned to this connection. */
  Set<String> assigned() {
    check();
    return assigned;
  }

  /** The local port of the connection, which a proxy in between sees as the client's port. */
  int localPort() {
    return ws.localAddress().port();
  }

  public void close() {
    ws.close()
        .transform(v -> client.close())
        .toCompletionStage()
        .toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS)
        .join();
  }

  private static String abbreviate(String text) {
    return text.length() <= 300 ? text : text.substring(0, 300) + "...";
  }
}
