package io.orderpush.drill;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One parsed delivery: a WebSocket message ({@code type}, {@code merchants}, {@code code}, {@code
 * message}) or a callback body, both carrying {@code merchantId} and {@code events}. Reused from
 * message to message by one consumer (not thread-safe); only the fields the drill checks are kept,
 * the rest is skipped.
 */
final class Delivery {

  private static final JsonFactory JSON = new JsonFactory();

  String type;
  String merchantId;
  String message;
  final List<String> merchants = new ArrayList<>();
  int count;
  long[] seqs = new long[1024];
  String[] orderIds = new String[1024];
  String[] types = new String[1024];
  String[] ats = new String[1024];

  /** Parses {@code json}; throws IOException if it is not a JSON object of the expected shape. */
  void parse(byte[] json) throws IOException {
    try (JsonParser p = JSON.createParser(json)) {
      parse(p);
    }
  }

  void parse(String json) throws IOException {
    try (JsonParser p = JSON.createParser(json)) {
      parse(p);
    }
  }

  private void parse(JsonParser p) throws IOException {
    type = null;
    merchantId = null;
    message = null;
    merchants.clear();
    count = 0;
    if (p.nextToken() != JsonToken.START_OBJECT) {
      throw new IOException("not a JSON object");
    }
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String f = p.currentName();
      JsonToken t = p.nextToken();
      switch (f) {
        case "type" -> type = p.getText();
        case "merchantId" -> merchantId = p.getText();
        case "code", "message" ->
            message = message == null ? p.getText() : message + ": " + p.getText();
        case "merchants" -> {
          if (t != JsonToken.START_ARRAY) {
            throw new IOException("merchants is not an array");
          }
          while (p.nextToken() == JsonToken.VALUE_STRING) {
            merchants.add(p.getText());
          }
        }
        case "events" -> {
          if (t != JsonToken.START_ARRAY) {
            throw new IOException("events is not an array");
          }
          while (p.nextToken() == JsonToken.START_OBJECT) {
            event(p);
          }
        }
        default -> p.skipChildren();
      }
    }
  }

  private void event(JsonParser p) throws IOException {
    if (count == seqs.length) {
      int n = count * 2;
      seqs = Arrays.copyOf(seqs, n);
      orderIds = Arrays.copyOf(orderIds, n);
      types = Arrays.copyOf(types, n);
      ats = Arrays.copyOf(ats, n);
    }
    long seq = -1;
    String orderId = null;
    String eventType = null;
    String at = null;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String g = p.currentName();
      p.nextToken();
      switch (g) {
        case "seq" -> seq = p.getLongValue();
        case "orderId" -> orderId = p.getText();
        case "type" -> eventType = p.getText();
        case "ingestedAt" -> at = p.getText();
        default -> p.skipChildren();
      }
    }
    if (seq < 1) {
      throw new IOException("an event without a positive seq");
    }
    seqs[count] = seq;
    orderIds[count] = orderId;
    types[count] = eventType;
    ats[count] = at;
    count++;
  }
}
