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
import java.util.function.BiConsumer;

/** A real WebSocket consumer for tests: records what it is sent and acks when told to. */
public final class StreamClient {

  final WebSocket ws;
  // Held as long as the connection: Vert.x closes a client, and its connections, once unreachable.
  private final WebSocketClient client;
  final Map<String, List<Long>> received = new ConcurrentHashMap<>();
  final Map<String, List<String>> eventIds = new ConcurrentHashMap<>();
  final Set<String> assigned = ConcurrentHashMap.newKeySet();
  final List<JsonObject> errors = new CopyOnWriteArrayList<>();
  final List<JsonObject> messages = new CopyOnWriteArrayList<>();
  volatile JsonObject hello;
  volatile boolean autoAck;
  public volatile boolean closed;

  /** Called with (merchantId, events) for every events message, before any auto ack. */
  volatile BiConsumer<String, JsonArray> onEvents = (m, e) -> {};

  private StreamClient(
      WebSocketClient client, WebSocket ws, BiConsumer<String, JsonArray> onEvents) {
    this.client = client;
    this.ws = ws;
    this.onEvents = onEvents;
    ws.textMessageHandler(this::onMessage);
    ws.closeHandler(v -> closed = true);
  }

  static Future<StreamClient> connect(Vertx vertx, int port, String token) {
    return connect(vertx, port, token, (m, e) -> {});
  }

  /** Connects with {@code onEvents} in place before the first message can arrive. */
  public static Future<StreamClient> connect(
      Vertx vertx, int port, String token, BiConsumer<String, JsonArray> onEvents) {
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
    return client.connect(options).map(ws -> new StreamClient(client, ws, onEvents));
  }

  static StreamClient open(Vertx vertx, int port, String token) {
    return connect(vertx, port, token)
        .toCompletionStage()
        .toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS)
        .join();
  }

  private void onMessage(String text) {
    JsonObject msg = new JsonObject(text);
    messages.add(msg);
    switch (msg.getString("type")) {
      case "hello" -> hello = msg;
      case "assigned" -> msg.getJsonArray("merchants").forEach(m -> assigned.add((String) m));
      case "unassigned" -> msg.getJsonArray("merchants").forEach(assigned::remove);
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
        if (autoAck) {
          ack(m, events.getJsonObject(events.size() - 1).getLong("seq"));
        }
      }
      default -> throw new IllegalStateException("unexpected message " + text);
    }
  }

  public void ack(String merchantId, long seq) {
    ws.writeTextMessage(
        new JsonObject().put("type", "ack").put("merchantId", merchantId).put("seq", seq).encode());
  }

  int count(String merchantId) {
    return received.getOrDefault(merchantId, List.of()).size();
  }

  int total() {
    return received.values().stream().mapToInt(List::size).sum();
  }

  public void close() {
    ws.close()
        .transform(v -> client.close())
        .toCompletionStage()
        .toCompletableFuture()
        .orTimeout(10, TimeUnit.SECONDS)
        .join();
  }
}
