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
    return chunks(merchants).stream()
        .map(chunk -> new JsonObject().put("type", type).put("merchants", new JsonArray(chunk)))
        .map(JsonObject::encode)
        .toList();
  }

  /** The merchants in lists of at most {@link #MERCHANTS_PER_MESSAGE}, in order. */
  static List<List<String>> chunks(Collection<String> merchants) {
    List<List<String>> out = new ArrayList<>();
    List<String> all = new ArrayList<>(merchants);
    for (int i = 0; i < all.size(); i += MERCHANTS_PER_MESSAGE) {
      out.add(all.subList(i, Math.min(all.size(), i + MERCHANTS_PER_MESSAGE)));
    }
    return out;
  }

  /**
   * An {@code assigned} message numbered {@code assignment}: the connection's count of assigned
   * messages, which an ack may echo so that one sent before the client read this message is told
   * apart from one sent after.
   */
  static String assigned(List<String> merchants, long assignment) {
    return new JsonObject()
        .put("type", "assigned")
        .put("merchants", new JsonArray(merchants))
        .put("assignment", assignment)
        .encode();
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
   * {@code events} messages carrying {@code events} in order, each at most {@code maxBytes} bytes
   * of UTF-8 (an event larger than that goes alone in a message of its own): each event's stored
   * text is encoded once, straight into its message (a {@code String} message cost a builder, its
   * widening to UTF-16 at the first CJK character, the string, and its encoding when sent: about 8
   * KB for a message of one 1.3 KB event).
   */
  static List<ByteBuf> events(String merchantId, List<LoggedEvent> events, int maxBytes) {
    String head =
        "{\"type\":\"events\",\"merchantId\":" + Json.encode(merchantId) + ",\"events\":[";
    int headBytes = ByteBufUtil.utf8Bytes(head);
    int[] jsonBytes = new int[events.size()];
    int[] sizes = new int[events.size()];
    for (int i = 0; i < sizes.length; i++) {
      jsonBytes[i] = EventJson.utf8Length(events.get(i).json());
      sizes[i] = events.get(i).deliveredUtf8Length(jsonBytes[i]);
    }
    List<ByteBuf> out = new ArrayList<>(1);
    int from = 0;
    while (from < sizes.length) {
      int to = splitAt(headBytes, sizes, from, maxBytes);
      long size = headBytes + 2L + (to - from - 1);
      for (int i = from; i < to; i++) {
        size += sizes[i];
      }
      ByteBuf buf = Unpooled.buffer((int) Math.min(size, Integer.MAX_VALUE - 8));
      ByteBufUtil.reserveAndWriteUtf8(buf, head, 0, head.length(), headBytes);
      for (int i = from; i < to; i++) {
        if (i > from) {
          buf.writeByte(',');
        }
        events.get(i).writeTo(buf, jsonBytes[i]);
      }
      out.add(buf.writeByte(']').writeByte('}'));
      from = to;
    }
    return out;
  }

  /**
   * The end (exclusive) of the message that starts with event {@code from}: as many events as fit
   * in {@code maxBytes} with the head, the commas and the closing {@code ]\u007d}, and at least
   * one.
   */
  private static int splitAt(int headBytes, int[] sizes, int from, int maxBytes) {
    long size = headBytes + 2L + sizes[from];
    int to = from + 1;
    while (to < sizes.length && size + 1 + sizes[to] <= maxBytes) {
      size += 1 + sizes[to];
      to++;
    }
    return to;
  }
}
