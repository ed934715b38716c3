package io.orderpush.delivery.websocket;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.orderpush.persistence.events.EventJson;
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
   * {@code events} messages carrying {@code events} in order, each at most about {@code maxChars}
   * characters, as UTF-8: each event's stored text is encoded once, straight into its message (a
   * {@code String} message cost a builder, its widening to UTF-16 at the first CJK character, the
   * string, and its encoding when sent: about 8 KB for a message of one 1.3 KB event).
   */
  static List<ByteBuf> events(String merchantId, List<LoggedEvent> events, int maxChars) {
    String head =
        "{\"type\":\"events\",\"merchantId\":" + Json.encode(merchantId) + ",\"events\":[";
    int headBytes = ByteBufUtil.utf8Bytes(head);
    int[] bytes = new int[events.size()];
    for (int i = 0; i < bytes.length; i++) {
      bytes[i] = EventJson.utf8Length(events.get(i).json());
    }
    List<ByteBuf> out = new ArrayList<>(1);
    ByteBuf buf = null;
    long chars = 0;
    for (int i = 0; i < events.size(); i++) {
      LoggedEvent e = events.get(i);
      if (buf != null && chars + e.deliveredLength() + 2 > maxChars) {
        out.add(buf.writeByte(']').writeByte('}'));
        buf = null;
      }
      if (buf == null) {
        buf = Unpooled.buffer(capacity(head, headBytes, events, bytes, i, maxChars));
        ByteBufUtil.reserveAndWriteUtf8(buf, head, 0, head.length(), headBytes);
        chars = head.length();
      } else {
        buf.writeByte(',');
        chars++;
      }
      e.writeTo(buf, bytes[i]);
      chars += e.deliveredLength();
    }
    if (buf != null) {
      out.add(buf.writeByte(']').writeByte('}'));
    }
    return out;
  }

  /**
   * The bytes of the message that starts with event {@code from}, split as {@link #events} splits
   * it: sized exactly, so the buffer neither grows nor holds more than the message.
   */
  private static int capacity(
      String head, int headBytes, List<LoggedEvent> events, int[] bytes, int from, int maxChars) {
    long chars = head.length();
    long size = headBytes + 2L;
    for (int i = from; i < events.size(); i++) {
      LoggedEvent e = events.get(i);
      if (i > from && chars + e.deliveredLength() + 2 > maxChars) {
        break;
      }
      chars += e.deliveredLength() + (i > from ? 1 : 0);
      size += e.deliveredUtf8Length(bytes[i]) + (i > from ? 1 : 0);
    }
    return (int) Math.min(size, Integer.MAX_VALUE - 8);
  }
}
