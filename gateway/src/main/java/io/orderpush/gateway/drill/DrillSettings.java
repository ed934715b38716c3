package io.orderpush.gateway.drill;

import io.orderpush.gateway.config.DrillLimits;
import io.orderpush.gateway.http.ApiException;
import io.vertx.core.json.JsonObject;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * What an operator asks of a drill ({@code POST /v1/drills}), checked against the configured {@link
 * DrillLimits}: every problem is reported at once, nothing is created on any.
 *
 * @param scale the share of the full peak day's population (~20.9M events at 1.0)
 * @param tailMerchants merchants in the population's long tail
 * @param peakRate events per second at the peak
 * @param multiplier the peak over the normal rate (100: "100x of a normal day")
 * @param maxRate the operator's cap on the offered rate, at most {@code drill.max-rate}
 * @param maxDurationS the drill stops after this long whatever happens, drain included
 * @param drainS how long to wait after the profile for the app to catch up
 */
public record DrillSettings(
    UUID appId,
    double scale,
    int tailMerchants,
    double peakRate,
    double multiplier,
    double maxRate,
    int maxDurationS,
    double normalS,
    double rampUpS,
    double rampDownS,
    double tailS,
    int drainS,
    long seed) {

  private static final SecureRandom RANDOM = new SecureRandom();

  private static final List<String> KNOWN =
      List.of(
          "appId",
          "scale",
          "tailMerchants",
          "peakRate",
          "multiplier",
          "maxRate",
          "maxDurationS",
          "normalS",
          "rampUpS",
          "rampDownS",
          "tailS",
          "drainS",
          "seed");

  /** Reads and checks a request body; throws a 400 listing every problem. */
  public static DrillSettings parse(JsonObject body, DrillLimits limits) {
    List<Map<String, Object>> problems = new ArrayList<>();
    for (String f : body.fieldNames()) {
      if (!KNOWN.contains(f)) {
        problems.add(Map.of("field", f, "problem", "unknown field"));
      }
    }
    UUID app = null;
    Object a = body.getValue("appId");
    if (a instanceof String s) {
      try {
        app = UUID.fromString(s);
      } catch (IllegalArgumentException e) {
        problems.add(Map.of("field", "appId", "problem", "must be an app id (a UUID)"));
      }
    } else {
      problems.add(Map.of("field", "appId", "problem", "required: the app to drill"));
    }
    double maxRate = number(body, "maxRate", limits.maxRate(), 1, limits.maxRate(), problems);
    DrillSettings s =
        new DrillSettings(
            app,
            number(body, "scale", 0.001, 0.00001, 10, problems),
            (int) number(body, "tailMerchants", 1000, 0, 10_000, problems),
            number(body, "peakRate", Math.min(2000, maxRate), 1, limits.maxRate(), problems),
            number(body, "multiplier", 100, 1, 1000, problems),
            maxRate,
            (int)
                number(
                    body,
                    "maxDurationS",
                    Math.min(600, limits.maxDurationS()),
                    10,
                    limits.maxDurationS(),
                    problems),
            number(body, "normalS", 10, 0, 3600, problems),
            number(body, "rampUpS", 10, 0, 3600, problems),
            number(body, "rampDownS", 10, 0, 3600, problems),
            number(body, "tailS", 10, 0, 3600, problems),
            (int) number(body, "drainS", 60, 0, 3600, problems),
            body.getValue("seed") instanceof Number n ? n.longValue() : RANDOM.nextLong());
    if (!problems.isEmpty()) {
      throw new ApiException(400, "invalid_drill", "the drill's settings are not valid", problems);
    }
    return s;
  }

  private static double number(
      JsonObject body,
      String field,
      double fallback,
      double min,
      double max,
      List<Map<String, Object>> problems) {
    Object v = body.getValue(field);
    if (v == null) {
      return fallback;
    }
    if (!(v instanceof Number n) || !(n.doubleValue() >= min && n.doubleValue() <= max)) {
      problems.add(
          Map.of("field", field, "problem", "must be a number from " + min + " to " + max));
      return fallback;
    }
    return n.doubleValue();
  }

  public JsonObject toJson() {
    return new JsonObject()
        .put("appId", appId.toString())
        .put("scale", scale)
        .put("tailMerchants", tailMerchants)
        .put("peakRate", peakRate)
        .put("multiplier", multiplier)
        .put("maxRate", maxRate)
        .put("maxDurationS", maxDurationS)
        .put("normalS", normalS)
        .put("rampUpS", rampUpS)
        .put("rampDownS", rampDownS)
        .put("tailS", tailS)
        .put("drainS", drainS)
        .put("seed", seed);
  }

  /** A new drill id: 10 characters of [a-z0-9]. */
  static String newId() {
    String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    StringBuilder sb = new StringBuilder(10);
    for (int i = 0; i < 10; i++) {
      sb.append(alphabet.charAt(RANDOM.nextInt(alphabet.length())));
    }
    return sb.toString();
  }
}
