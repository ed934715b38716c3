package io.orderpush.drill;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code DRILL_APP=<appId> scripts/drill.sh}: drills one ISV's own app through a running gateway's
 * operator API ({@code /v1/drills}, docs/drills.md). Starts the drill, shows a progress line every
 * 2 s, stops the drill on Ctrl-C, and writes the gateway's report ({@code report.md}, {@code
 * report.html}, {@code summary.json}) to the output directory. Creates no consumer of its own: the
 * app is what is measured.
 *
 * <p>Environment: {@code DRILL_APP} (required), {@code DRILL_GATEWAY_URL} (default {@code
 * http://127.0.0.1:8080}), {@code GATEWAY_ADMIN_TOKEN} (required), {@code DRILL_OUT} (the report
 * directory), and the drill's settings: {@code DRILL_APP_SCALE}, {@code DRILL_TAIL_MERCHANTS},
 * {@code DRILL_PEAK_RATE}, {@code DRILL_MULTIPLIER}, {@code DRILL_MAX_RATE}, {@code
 * DRILL_MAX_DURATION_S}, {@code DRILL_NORMAL_S}, {@code DRILL_RAMP_UP_S}, {@code
 * DRILL_RAMP_DOWN_S}, {@code DRILL_TAIL_S}, {@code DRILL_DRAIN_S}, {@code DRILL_SEED}; {@code
 * DRILL_APP_KEEP=1} keeps the drill's sandbox merchants and report in the gateway afterwards
 * (default: deleted once the report is saved here).
 *
 * <p>Exit status: 0 the drill ended and its report is saved (whatever its verdict); 2 setup or API
 * error; 130 interrupted (the drill was stopped, its report saved if it came).
 */
public final class AppDrillRun {

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Environment variable to request field, numbers only. */
  private static final Map<String, String> SETTINGS =
      Map.ofEntries(
          Map.entry("DRILL_APP_SCALE", "scale"),
          Map.entry("DRILL_TAIL_MERCHANTS", "tailMerchants"),
          Map.entry("DRILL_PEAK_RATE", "peakRate"),
          Map.entry("DRILL_MULTIPLIER", "multiplier"),
          Map.entry("DRILL_MAX_RATE", "maxRate"),
          Map.entry("DRILL_MAX_DURATION_S", "maxDurationS"),
          Map.entry("DRILL_NORMAL_S", "normalS"),
          Map.entry("DRILL_RAMP_UP_S", "rampUpS"),
          Map.entry("DRILL_RAMP_DOWN_S", "rampDownS"),
          Map.entry("DRILL_TAIL_S", "tailS"),
          Map.entry("DRILL_DRAIN_S", "drainS"),
          Map.entry("DRILL_SEED", "seed"));

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final String base;
  private final String token;

  AppDrillRun(String base, String token) {
    this.base = base.endsWith("/") ? base.substring(0, base.length() - 1) : base;
    this.token = token;
  }

  public static void main(String[] args) throws Exception {
    Map<String, String> env = System.getenv();
    String app = env.get("DRILL_APP");
    String token = env.get("GATEWAY_ADMIN_TOKEN");
    if (app == null || app.isBlank() || token == null || token.isBlank()) {
      fail("DRILL_APP and GATEWAY_ADMIN_TOKEN are required");
    }
    Path out = Path.of(env.getOrDefault("DRILL_OUT", "target/drill/app-" + app));
    ObjectNode body = JSON.createObjectNode().put("appId", app);
    for (var e : SETTINGS.entrySet()) {
      String v = env.get(e.getKey());
      if (v != null && !v.isBlank()) {
        try {
          body.put(e.getValue(), Double.parseDouble(v.trim()));
        } catch (NumberFormatException ex) {
          fail(e.getKey() + " must be a number, not '" + v + "'");
        }
      }
    }
    AppDrillRun run =
        new AppDrillRun(env.getOrDefault("DRILL_GATEWAY_URL", "http://127.0.0.1:8080"), token);
    System.exit(run.run(body, out, "1".equals(env.get("DRILL_APP_KEEP"))));
  }

  int run(ObjectNode body, Path out, boolean keep) throws Exception {
    HttpResponse<String> started = send("POST", "/v1/drills", JSON.writeValueAsString(body));
    if (started.statusCode() != 201) {
      log("the gateway refused the drill: HTTP " + started.statusCode() + " " + started.body());
      return 2;
    }
    JsonNode drill = JSON.readTree(started.body());
    String id = drill.path("drillId").asText();
    JsonNode plan = drill.path("plan");
    log(
        String.format(
            "drill %s of app %s: %,d events over %d merchants, normal %.0f/s, peak %.0f/s, %.0f s"
                + " of profile",
            id,
            body.path("appId").asText(),
            plan.path("events").asLong(),
            plan.path("merchants").asInt(),
            plan.path("normalRate").asDouble(),
            plan.path("peakRate").asDouble(),
            plan.path("profileS").asDouble()));
    AtomicBoolean interrupted = new AtomicBoolean();
    Thread hook =
        new Thread(
            () -> {
              interrupted.set(true);
              try {
                log("interrupted: stopping drill " + id);
                send("POST", "/v1/drills/" + id + "/stop", null);
                awaitReport(id, out, 30);
              } catch (Exception e) {
                log("could not stop drill " + id + ": " + e);
              }
            });
    Runtime.getRuntime().addShutdownHook(hook);
    JsonNode now;
    while (true) {
      Thread.sleep(2000);
      HttpResponse<String> r = send("GET", "/v1/drills/" + id, null);
      if (r.statusCode() != 200) {
        log("cannot read drill " + id + ": HTTP " + r.statusCode() + " " + r.body());
        return 2;
      }
      now = JSON.readTree(r.body());
      if (!"running".equals(now.path("state").asText())) {
        break;
      }
      JsonNode live = now.path("live");
      System.err.printf(
          "\rdrill: %4ds %-9s offered %,d  acked %,d  lag %,d   ",
          live.path("seconds").asInt(),
          live.path("phase").asText(""),
          live.path("offered").asLong(),
          live.path("acked").asLong(),
          live.path("lag").asLong());
    }
    System.err.println();
    boolean saved = awaitReport(id, out, 30);
    Runtime.getRuntime().removeShutdownHook(hook);
    if (!saved) {
      log("drill " + id + " ended (" + now.path("state").asText() + ") without a report");
      return 2;
    }
    if (!keep) {
      send("DELETE", "/v1/drills/" + id, null);
    }
    return interrupted.get() ? 130 : 0;
  }

  /** Waits for the report, saves it; false if none came within {@code seconds}. */
  private boolean awaitReport(String id, Path out, int seconds) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
    while (System.nanoTime() < deadline) {
      HttpResponse<String> md = send("GET", "/v1/drills/" + id + "/report", null);
      if (md.statusCode() == 200) {
        Files.createDirectories(out);
        Files.writeString(out.resolve("report.md"), md.body(), StandardCharsets.UTF_8);
        HttpResponse<String> html = send("GET", "/v1/drills/" + id + "/report.html", null);
        if (html.statusCode() == 200) {
          Files.writeString(out.resolve("report.html"), html.body(), StandardCharsets.UTF_8);
        }
        JsonNode drill = JSON.readTree(send("GET", "/v1/drills/" + id, null).body());
        Files.writeString(
            out.resolve("summary.json"),
            JSON.writerWithDefaultPrettyPrinter().writeValueAsString(drill),
            StandardCharsets.UTF_8);
        log(drill.path("summary").path("verdict").asText("(no verdict)"));
        log("report: " + out.resolve("report.md") + " and report.html");
        return true;
      }
      if (md.statusCode() != 409) {
        log("cannot read the report of " + id + ": HTTP " + md.statusCode() + " " + md.body());
        return false;
      }
      Thread.sleep(500);
    }
    return false;
  }

  private HttpResponse<String> send(String method, String path, String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create(base + path))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + token)
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static void log(String s) {
    System.err.println("drill: " + s);
  }

  private static void fail(String s) {
    log("ERROR: " + s);
    System.exit(2);
  }
}
