package io.orderpush.client.impl;

import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One WebSocket connection: assembles the text frames the JDK hands over in parts into whole
 * messages (refusing any longer than the cap), keeps sends one at a time (the JDK allows one
 * outstanding send), remembers when the server was last heard, and reports its end exactly once.
 * Pings are answered by the JDK.
 */
public final class WsSession implements WebSocket.Listener {

  /** What the owner hears; calls come from the HTTP client's threads, one at a time. */
  public interface Events {
    void message(WsSession session, String text);

    void ended(WsSession session, String why);
  }

  private final Events events;
  private final int maxChars;
  private final StringBuilder parts = new StringBuilder();
  private final AtomicBoolean ended = new AtomicBoolean();
  private final CompletableFuture<String> endedWhy = new CompletableFuture<>();
  private volatile WebSocket ws;
  private volatile long lastHeardNanos = System.nanoTime();
  private CompletableFuture<?> tail = CompletableFuture.completedFuture(null);

  public WsSession(Events events, int maxChars) {
    this.events = events;
    this.maxChars = maxChars;
  }

  public long lastHeardNanos() {
    return lastHeardNanos;
  }

  /** Completes with the reason once the connection has ended. */
  public CompletableFuture<String> whenEnded() {
    return endedWhy;
  }

  public boolean isOpen() {
    return ws != null && !ended.get();
  }

  @Override
  public void onOpen(WebSocket webSocket) {
    this.ws = webSocket;
    lastHeardNanos = System.nanoTime();
    webSocket.request(1);
  }

  @Override
  public CompletionStage<?> onText(WebSocket webSocket, CharSequence data, boolean last) {
    lastHeardNanos = System.nanoTime();
    if (parts.length() + data.length() > maxChars) {
      parts.setLength(0);
      end(
          "a message longer than maxMessageChars ("
              + maxChars
              + ") arrived; raise ConsumerOptions.maxMessageChars");
      webSocket.abort();
      return null;
    }
    parts.append(data);
    if (last) {
      String text = parts.toString();
      parts.setLength(0);
      events.message(this, text);
    }
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onBinary(WebSocket webSocket, ByteBuffer data, boolean last) {
    lastHeardNanos = System.nanoTime();
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onPing(WebSocket webSocket, ByteBuffer message) {
    lastHeardNanos = System.nanoTime();
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onPong(WebSocket webSocket, ByteBuffer message) {
    lastHeardNanos = System.nanoTime();
    webSocket.request(1);
    return null;
  }

  @Override
  public CompletionStage<?> onClose(WebSocket webSocket, int statusCode, String reason) {
    end("closed by the gateway: " + statusCode + (reason.isEmpty() ? "" : " " + reason));
    return null;
  }

  @Override
  public void onError(WebSocket webSocket, Throwable error) {
    end("connection failed: " + error);
  }

  /** Queues a text message after those before it; a failed send ends the session. */
  public synchronized CompletableFuture<?> send(String text) {
    WebSocket w = ws;
    if (w == null || ended.get()) {
      return tail;
    }
    tail =
        tail.handle((x, e) -> null)
            .thenCompose(x -> w.sendText(text, true))
            .whenComplete(
                (x, e) -> {
                  if (e != null) {
                    end("sending failed: " + e);
                    w.abort();
                  }
                });
    return tail;
  }

  /** After what is queued, a close frame; completes when it is sent. */
  public synchronized CompletableFuture<?> close(int code, String reason) {
    WebSocket w = ws;
    if (w == null) {
      return CompletableFuture.completedFuture(null);
    }
    tail = tail.handle((x, e) -> null).thenCompose(x -> w.sendClose(code, reason));
    return tail;
  }

  /** Drops the connection at once, without a close frame. */
  public void abort(String why) {
    end(why);
    WebSocket w = ws;
    if (w != null) {
      w.abort();
    }
  }

  private void end(String why) {
    if (ended.compareAndSet(false, true)) {
      try {
        events.ended(this, why);
      } finally {
        endedWhy.complete(why);
      }
    }
  }
}
