package io.orderpush.delivery.websocket;

import io.orderpush.persistence.events.LoggedEvent;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** The server's messages of the stream protocol (docs/websocket.md). */
final class StreamMessages {

  /** Merchants per assigned/unassigned message. */
  static final int MERCHANTS_PER_MESSAGE = 1000;

  private StreamMessages() {}

  static String hello(String connectionId, String appId, int window) {
    return new JsonObject()
        .put("type", "hello")
        .put("connectionId", connectionId)
        .put("appId", appId)
        .put("window", window)
        .encode();
  }

  static List<String> assignment(String type, Collection<String> merchants) {
    List<String> out = new ArrayList<>();
    List<String> all = new ArrayList<>(merchants);
    for (int i = 0; i < all.size(); i += MERCHANTS_PER_MESSAGE) {
      out.add(
          new JsonObject()
              .put("type", type)
              .put(
                  "merchants",
                  new JsonArray(all.subList(i, Math.min(all.size(), i + MERCHANTS_PER_MESSAGE))))
              .encode());
    }
    return out;
  }

  static String error(String code, String message) {
    return new JsonObject().put("type", "error").put("code", code).put("message", message).encode();
  }

  /**
   * {@code events} messages carrying {@code events} in order, each at most about {@code maxBytes}.
   */
  static List<String> events(String merchantId, List<LoggedEvent> events, int maxBytes) {
    String head =
        "{\"type\":\"events\",\"merchantId\":" + Json.encode(merchantId) + ",\"events\":[";
    List<String> out = new ArrayList<>(1);
    StringBuilder sb = null;
    for (LoggedEvent e : events) {
      if (sb != null && sb.length() + e.deliveredLength() + 2 > maxBytes) {
        out.add(sb.append("]}").toString());
        sb = null;
      }
      if (sb == null) {
        sb = new StringBuilder(Math.min(maxBytes, 64 * 1024)).append(head);
      } else {
        sb.append(',');
      }
      e.appendTo(sb);
    }
    if (sb != null) {
      out.add(sb.append("]}").toString());
    }
    return out;
  }
}
