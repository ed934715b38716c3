package io.orderpush.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.sun.net.httpserver.HttpServer;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;
import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/**
 * A gateway process with {@code GATEWAY_LOG_FORMAT=json} and the production logback.xml: every line
 * it writes is one JSON object, ingest has an access line with its request id, each failed callback
 * attempt has a line naming the endpoint's host, and no line carries a token, a secret or the
 * callback URL's query.
 */
class JsonLogIT {

  static final String NODE = "json-log-node";
  static final String QUERY_SECRET = "receiverKey-5f1e0c";

  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @Test
  void shouldWriteOneJsonObjectPerLineWithContextAndNoSecrets() throws Exception {
    // The receiver answers 500 first, then drops the connection: two failed attempts, two kinds.
    AtomicInteger attempts = new AtomicInteger();
    HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/",
        exchange -> {
          exchange.getRequestBody().readAllBytes();
          if (attempts.incrementAndGet() == 1) {
            exchange.sendResponseHeaders(500, -1);
          }
          exchange.close();
        });
    receiver.start();
    int port = TestGateway.freePort();
    File logFile = new File("target", "json-log-it.log");
    Files.deleteIfExists(logFile.toPath());
    GatewayProcess gateway =
        GatewayProcess.start(
            port,
            logFile.getName(),
            Map.of(
                "GATEWAY_LOG_FORMAT", "json",
                "GATEWAY_NODE_ID", NODE,
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "100"),
            // The test classpath holds logback-test.xml; the child must use the production file.
            List.of("-Dlogback.configurationFile=logback.xml"));
    String appToken = null;
    String webhookSecret = null;
    String appId = null;
    String merchant = TestServices.uniqueMerchant("jsonlog");
    try {
      String url =
          "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hooks?key=" + QUERY_SECRET;
      HttpResponse<String> created =
          send(
              port,
              "POST",
              "/v1/apps",
              TestGateway.ADMIN_TOKEN,
              null,
              new JsonObject()
                  .put("name", "json-log")
                  .put("delivery", new JsonObject().put("mode", "callback").put("url", url))
                  .encode());
      assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
      JsonObject app = new JsonObject(created.body());
      appId = app.getString("appId");
      appToken = app.getString("token");
      webhookSecret = app.getString("webhookSecret");
      HttpResponse<String> granted =
          send(
              port,
              "PUT",
              "/v1/merchants/" + merchant + "/grants/" + appId,
              TestGateway.ADMIN_TOKEN,
              null,
              "{}");
      assertThat(granted.statusCode()).as(granted.body()).isEqualTo(200);

      HttpResponse<String> ingested =
          send(
              port,
              "POST",
              "/v1/events",
              TestGateway.INGEST_TOKEN,
              "it-ingest-1",
              Events.batch(List.of(Events.event(merchant, "e-1"))));
      assertThat(ingested.statusCode()).as(ingested.body()).isEqualTo(200);
      assertThat(ingested.headers().firstValue("X-Request-Id")).contains("it-ingest-1");
      HttpResponse<String> unknown = send(port, "GET", "/v1/nothing-here", null, null, null);
      assertThat(unknown.statusCode()).isEqualTo(404);
      assertThat(unknown.headers().firstValue("X-Request-Id")).isNotEmpty();
      HttpResponse<String> replay =
          send(port, "GET", "/v1/merchants/" + merchant + "/events", appToken, null, null);
      assertThat(replay.statusCode()).isEqualTo(200);

      String theApp = appId;
      Await.until(
          "two failed callback attempts logged",
          Duration.ofSeconds(30),
          () -> lines(logFile, false).stream().filter(failedAttempt(theApp)).count() >= 2);
    } finally {
      // Revoked, so the next run's gateway does not go on calling this test's dead receiver.
      if (appId != null) {
        send(
            port,
            "DELETE",
            "/v1/merchants/" + merchant + "/grants/" + appId,
            TestGateway.ADMIN_TOKEN,
            null,
            null);
      }
      gateway.terminate(Duration.ofSeconds(30));
      receiver.stop(0);
      if (appId != null) {
        TestApps.deleteRows(List.of(appId));
      }
    }

    String created = appId;
    List<JsonObject> lines = lines(logFile, true);
    assertThat(lines).isNotEmpty();
    for (JsonObject line : lines) {
      assertThat(line.getString("level")).as(line.encode()).isNotBlank();
      assertThat(line.getString("loggerName")).as(line.encode()).isNotBlank();
      assertThat(line.getLong("timestamp")).as(line.encode()).isNotNull();
      assertThat(line.getJsonObject("context").getJsonObject("properties").getString("node"))
          .as(line.encode())
          .isEqualTo(NODE);
    }

    JsonObject access = only(lines, l -> "it-ingest-1".equals(mdc(l).getString("requestId")));
    assertThat(access.getString("loggerName")).isEqualTo("io.orderpush.gateway.access");
    assertThat(mdc(access).getString("method")).isEqualTo("POST");
    assertThat(mdc(access).getString("path")).isEqualTo("/v1/events");
    assertThat(mdc(access).getString("status")).isEqualTo("200");
    assertThat(Double.parseDouble(mdc(access).getString("latencyMs"))).isPositive();

    JsonObject grant = only(lines, l -> "PUT".equals(mdc(l).getString("method")));
    assertThat(mdc(grant).getString("path")).isEqualTo("/v1/merchants/:merchantId/grants/:appId");
    assertThat(mdc(grant).getString("app")).isEqualTo(appId);
    assertThat(mdc(grant).getString("merchant")).isEqualTo(merchant);

    JsonObject replayed =
        only(lines, l -> "/v1/merchants/:merchantId/events".equals(mdc(l).getString("path")));
    assertThat(mdc(replayed).getString("app")).as("the app that replayed").isEqualTo(appId);

    JsonObject notFound = only(lines, l -> "404".equals(mdc(l).getString("status")));
    assertThat(mdc(notFound).getString("requestId")).isNotBlank();

    List<JsonObject> failures = lines.stream().filter(failedAttempt(created)).toList();
    assertThat(failures).hasSizeGreaterThanOrEqualTo(2);
    String host = "127.0.0.1:" + receiver.getAddress().getPort();
    for (JsonObject f : failures) {
      assertThat(f.getString("level")).isEqualTo("WARN");
      assertThat(mdc(f).getString("merchant")).isEqualTo(merchant);
      assertThat(mdc(f).getString("host")).isEqualTo(host);
      assertThat(mdc(f).getString("webhookId")).startsWith("msg_");
      assertThat(mdc(f).getString("fromSeq")).isEqualTo("1");
    }
    assertThat(mdc(failures.get(0)).getString("status")).isEqualTo("500");
    assertThat(mdc(failures.get(1)).containsKey("status")).as("no answer: no status").isFalse();

    String all = Files.readString(logFile.toPath(), StandardCharsets.UTF_8);
    assertThat(all)
        .doesNotContain(TestGateway.ADMIN_TOKEN)
        .doesNotContain(TestGateway.INGEST_TOKEN)
        .doesNotContain(appToken)
        .doesNotContain(webhookSecret)
        .doesNotContain(webhookSecret.substring("whsec_".length()))
        .doesNotContain(QUERY_SECRET);
  }

  static Predicate<JsonObject> failedAttempt(String appId) {
    return l ->
        appId.equals(mdc(l).getString("app"))
            && l.getString("loggerName", "").endsWith("CallbackEndpoint")
            && l.getString("formattedMessage", "").startsWith("callback attempt failed");
  }

  static JsonObject mdc(JsonObject line) {
    JsonObject mdc = line.getJsonObject("mdc");
    return mdc == null ? new JsonObject() : mdc;
  }

  static JsonObject only(List<JsonObject> lines, Predicate<JsonObject> which) {
    List<JsonObject> found = lines.stream().filter(which).toList();
    assertThat(found).as("exactly one such line among %s", lines).hasSize(1);
    return found.get(0);
  }

  /**
   * Every line, parsed; when {@code strict}, a line that is not one JSON object fails the test with
   * its text (while the gateway runs, the last line may be half written).
   */
  static List<JsonObject> lines(File file, boolean strict) {
    List<JsonObject> parsed = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(file.toPath(), StandardCharsets.UTF_8)) {
        if (line.isBlank()) {
          continue;
        }
        try {
          parsed.add(new JsonObject(line));
        } catch (DecodeException e) {
          if (strict) {
            fail("not a JSON object: " + line);
          }
        }
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
    return parsed;
  }

  HttpResponse<String> send(
      int port, String method, String path, String token, String requestId, String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(30))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    if (requestId != null) {
      b.header("X-Request-Id", requestId);
    }
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }
}
