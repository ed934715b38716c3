package io.orderpush.gateway;

import io.orderpush.persistence.events.NewEvent;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.time.Instant;
import java.util.List;

/** Builds ingest bodies for tests, and commits events behind a test gateway's back. */
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

  /**
   * Commits an event {@code eventId} of each merchant through {@code gw}'s log directly, as a
   * commit whose answer was lost (or another node's) would be: nothing in the gateway hears of it.
   */
  public static void commitBehindTheGatewaysBack(
      TestGateway gw, List<String> merchants, String eventId) {
    String tail =
        "\"eventId\":\""
            + eventId
            + "\",\"orderId\":\"o-2\",\"type\":\"order.paid\","
            + "\"occurredAt\":\"2026-11-11T00:00:02.000Z\",\"data\":{}}";
    gw.gateway
        .pool()
        .withTransaction(
            tx ->
                gw.gateway
                    .eventLog()
                    .append(
                        tx,
                        merchants.stream().map(m -> new NewEvent(m, eventId, tail)).toList(),
                        Instant.now()))
        .toCompletionStage()
        .toCompletableFuture()
        .join();
  }

  /**
   * As if retention had removed every stored event of each merchant after its head reached {@code
   * head}: the heads move there and no chunk is left. Nothing in the gateway hears of it.
   */
  public static void removeBehindTheGatewaysBack(
      TestGateway gw, List<String> merchants, long head) {
    String[] ids = merchants.toArray(String[]::new);
    gw.gateway
        .pool()
        .withTransaction(
            tx ->
                tx.preparedQuery("UPDATE merchants SET head_seq = $2 WHERE merchant_id = ANY($1)")
                    .execute(io.vertx.sqlclient.Tuple.of(ids, head))
                    .compose(
                        v ->
                            tx.preparedQuery("DELETE FROM event_chunks WHERE merchant_id = ANY($1)")
                                .execute(io.vertx.sqlclient.Tuple.of(ids))))
        .toCompletionStage()
        .toCompletableFuture()
        .join();
  }
}
