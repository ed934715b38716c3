package io.orderpush.gateway;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.util.List;

/** Builds ingest bodies for tests. */
public final class Events {

  private Events() {}

  public static JsonObject event(String merchantId, String eventId) {
    return new JsonObject()
        .put("eventId", eventId)
        .put("merchantId", merchantId)
        .put("orderId", "o-" + eventId)
        .put("type", "order.created")
        .put("occurredAt", "2026-11-11T00:00:01.250Z")
        .put("data", new JsonObject().put("buyer", "b-1").put("amount", 12.5));
  }

  public static String batch(List<JsonObject> events) {
    return new JsonArray(List.copyOf(events)).encode();
  }
}
