package io.orderpush.client.impl;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.orderpush.client.Batch;
import io.orderpush.client.Event;
import io.orderpush.client.OrderPushException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** The one place where the gateway's JSON is read into this library's records, and written. */
public final class Json {

  public static final ObjectMapper MAPPER = new ObjectMapper();

  private Json() {}

  public static JsonNode tree(String text) {
    try {
      return MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      throw new OrderPushException("not JSON: " + e.getOriginalMessage(), e);
    }
  }

  public static JsonNode tree(byte[] bytes) {
    try {
      return MAPPER.readTree(bytes);
    } catch (IOException e) {
      throw new OrderPushException("not JSON: " + e.getMessage(), e);
    }
  }

  /** An event object of push, callbacks and replay. */
  public static Event event(JsonNode e) {
    JsonNode seqNode = e.get("seq");
    if (seqNode == null || !seqNode.canConvertToLong()) {
      throw new OrderPushException("event without a numeric seq: " + abbreviate(e));
    }
    long seq = seqNode.asLong();
    JsonNode prev = e.get("prevSeq");
    long prevSeq = prev != null && prev.canConvertToLong() ? prev.asLong() : seq - 1;
    return new Event(
        seq,
        prevSeq,
        text(e, "eventId"),
        text(e, "orderId"),
        text(e, "type"),
        text(e, "occurredAt"),
        text(e, "ingestedAt"),
        e.get("data"));
  }

  /** {@code {"merchantId": ..., "events": [...]}}: an events message or a callback body. */
  public static Batch batch(JsonNode msg) {
    String merchantId = text(msg, "merchantId");
    JsonNode events = msg.get("events");
    if (merchantId == null || events == null || !events.isArray()) {
      throw new OrderPushException("expected merchantId and events: " + abbreviate(msg));
    }
    List<Event> out = new ArrayList<>(events.size());
    long prev = Long.MIN_VALUE;
    for (JsonNode e : events) {
      Event ev = event(e);
      if (ev.seq() <= prev) {
        throw new OrderPushException(
            "merchant " + merchantId + ": seq " + ev.seq() + " after " + prev + " in one batch");
      }
      prev = ev.seq();
      out.add(ev);
    }
    return new Batch(merchantId, out);
  }

  public static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    if (array != null) {
      array.forEach(n -> out.add(n.asText()));
    }
    return out;
  }

  public static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  /** An ack; {@code assignment} is the assigned message's number it answers, 0 for none. */
  public static String ack(String merchantId, long seq, long assignment) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("type", "ack").put("merchantId", merchantId).put("seq", seq);
    if (assignment > 0) {
      o.put("assignment", assignment);
    }
    return o.toString();
  }

  public static String seqBody(long seq) {
    return MAPPER.createObjectNode().put("seq", seq).toString();
  }

  static String abbreviate(JsonNode n) {
    String s = n.toString();
    return s.length() <= 200 ? s : s.substring(0, 200) + "...";
  }
}
