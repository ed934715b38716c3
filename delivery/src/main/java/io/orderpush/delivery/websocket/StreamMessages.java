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
   * {@code not_assigned}, naming the merchant: an ack that crossed an {@code unassigned} on the
   * wire gets this answer, and the client can tell it apart from a real mistake.
   */
  static String notAssigned(String merchantId) {
    return new JsonObject()
        .put("type", "error")
        .put("code", "not_assigned")
        .put("merchantId", merchantId)
        .put("message", "merchant " + merchantId + " is not assigned to this connection")
        .encode();
  }

  /**
   * {@code events} messages carrying {@code events} in order, each at most about {@code maxBytes}.
   */
  static List<String> events(String merchantId, List<LoggedEvent> events, int maxBytes) {
    String head =
        "{\"type\":\"events\",\"merchantId\":" + Json.encode(merchantId) + ",\"events\":[";
    List<String> out = new ArrayList<>(1);
    StringBuilder sb = null;
    for (int i = 0; i < events.size(); i++) {
      LoggedEvent e = events.get(i);
      if (sb != null && sb.length() + e.deliveredLength() + 2 > maxBytes) {
        out.add(sb.append("]}").toString());
        sb = null;
      }
      if (sb == null) {
        sb = new StringBuilder(capacity(head, events, i, maxBytes)).append(head);
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

  /**
   * The characters of the message that starts with event {@code from}: sized exactly, so the
   * builder neither grows nor holds a large empty buffer (a message is usually one or two events,
   * and a fixed 64 KiB buffer per message was the delivery path's largest cost).
   */
  private static int capacity(String head, List<LoggedEvent> events, int from, int maxBytes) {
    long chars = head.length() + 2L;
    for (int i = from; i < events.size() && chars <= maxBytes; i++) {
      chars += events.get(i).deliveredLength() + 1;
    }
    return (int) Math.min(chars, Math.max(maxBytes, head.length() + 2L));
  }
}
