package io.orderpush.gateway.drill;

import io.vertx.core.json.JsonObject;
import java.util.Map;
import java.util.TreeMap;

/**
 * One second of an app drill, summed over every gateway node: what the drill offered, what the app
 * acknowledged, and how it went. Lag after this second is the running sum of {@code offered} minus
 * that of {@code acked}.
 *
 * @param t seconds since the drill started (0 is the first second)
 * @param phase the profile's phase: {@code normal}, {@code ramp-up}, {@code peak}, {@code
 *     ramp-down}, {@code tail}, or {@code drain} once the profile has ended
 * @param target events per second the profile asked for this second (after the operator's cap)
 * @param offered events the drill committed to the log this second (its sandbox merchants)
 * @param acked sandbox events the app acknowledged this second (WebSocket ack or callback 2xx)
 * @param sandboxLatency commit-to-ack latency of those events
 * @param realLatency commit-to-ack latency of the app's real channels' events acked this second
 * @param statuses callback answers for sandbox batches by class: {@code 2xx}, {@code 3xx}, {@code
 *     4xx}, {@code 5xx}, {@code timeout}, {@code error} (no answer: refused, reset)
 * @param retries callback batches of sandbox channels sent again after a failure
 * @param connections WebSocket connections the app opened this second
 * @param ackTimeouts the app's WebSocket connections closed for leaving events unacked too long
 */
public record DrillSecond(
    int t,
    String phase,
    double target,
    long offered,
    long acked,
    LatencyBuckets sandboxLatency,
    LatencyBuckets realLatency,
    Map<String, Long> statuses,
    long retries,
    long connections,
    long ackTimeouts) {

  public JsonObject toJson() {
    JsonObject s = new JsonObject();
    statuses.forEach(s::put);
    return new JsonObject()
        .put("t", t)
        .put("phase", phase)
        .put("target", target)
        .put("offered", offered)
        .put("acked", acked)
        .put("sandboxLatency", sandboxLatency.toJson())
        .put("realLatency", realLatency.toJson())
        .put("statuses", s)
        .put("retries", retries)
        .put("connections", connections)
        .put("ackTimeouts", ackTimeouts);
  }

  public static DrillSecond fromJson(JsonObject o) {
    Map<String, Long> statuses = new TreeMap<>();
    JsonObject s = o.getJsonObject("statuses", new JsonObject());
    for (String k : s.fieldNames()) {
      statuses.put(k, s.getLong(k, 0L));
    }
    return new DrillSecond(
        o.getInteger("t", 0),
        o.getString("phase", "drain"),
        o.getDouble("target", 0.0),
        o.getLong("offered", 0L),
        o.getLong("acked", 0L),
        LatencyBuckets.fromJson(o.getJsonObject("sandboxLatency")),
        LatencyBuckets.fromJson(o.getJsonObject("realLatency")),
        statuses,
        o.getLong("retries", 0L),
        o.getLong("connections", 0L),
        o.getLong("ackTimeouts", 0L));
  }
}
