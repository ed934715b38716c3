package io.orderpush.gateway.http;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.read.ListAppender;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.testing.RawHttp;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpResponse;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Tokens, webhook secrets and keys never reach a log line, an error answer or a metric: a gateway
 * is driven through creation, rotation, ingest, deliveries to a failing endpoint and every kind of
 * failed authentication while everything it logs (DEBUG and up, stack traces included) is captured,
 * then the capture is searched for each secret.
 */
class SecretsNotLoggedIT {

  static final SecureRandom RANDOM = new SecureRandom();

  static String random(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return Base64.getEncoder().encodeToString(b);
  }

  @Test
  void shouldKeepTokensSecretsAndKeysOutOfLogsErrorsAndMetrics() throws Exception {
    String adminToken = "admin-" + random(24).replace('/', '_');
    String ingestToken = "ingest-" + random(24).replace('/', '_');
    String secretKey = random(32);
    String oldKey = random(32);
    List<String> secrets = new ArrayList<>(List.of(adminToken, ingestToken, secretKey, oldKey));
    List<String> answers = new ArrayList<>(); // every error body and the metrics

    Vertx vertx = Vertx.vertx();
    HttpServer failingEndpoint =
        vertx
            .createHttpServer()
            .requestHandler(req -> req.response().setStatusCode(500).end("endpoint failure"))
            .listen(0, "127.0.0.1")
            .toCompletionStage()
            .toCompletableFuture()
            .join();

    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    Level rootLevel = root.getLevel();
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.start();
    root.addAppender(captured);
    root.setLevel(Level.DEBUG);
    List<String> appIds = new ArrayList<>();
    TestGateway gw = null;
    try {
      Map<String, String> env = new HashMap<>();
      env.put("GATEWAY_ADMIN_TOKEN", adminToken);
      env.put("GATEWAY_INGEST_TOKEN", ingestToken);
      env.put("GATEWAY_SECRET_KEY", secretKey);
      env.put("GATEWAY_SECRET_KEYS_OLD", oldKey);
      env.put("GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1");
      env.put("GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "50");
      env.put("GATEWAY_AUTH_MAX_FAILURES", "1000");
      gw = TestGateway.start(env);

      String m = TestServices.uniqueMerchant("leak");
      JsonObject callbackApp =
          created(
              gw.send(
                  "POST",
                  "/v1/apps",
                  adminToken,
                  "{\"name\":\"leak-cb\",\"delivery\":{\"mode\":\"callback\",\"url\":"
                      + "\"http://127.0.0.1:"
                      + failingEndpoint.actualPort()
                      + "/hook\"}}"));
      JsonObject wsApp =
          created(
              gw.send(
                  "POST",
                  "/v1/apps",
                  adminToken,
                  "{\"name\":\"leak-ws\",\"delivery\":{\"mode\":\"websocket\"}}"));
      for (JsonObject app : List.of(callbackApp, wsApp)) {
        String id = app.getString("appId");
        appIds.add(id);
        addSecrets(secrets, app);
        gw.send("PUT", "/v1/merchants/" + m + "/grants/" + id, adminToken, "{}");
        HttpResponse<String> rotated =
            gw.send("POST", "/v1/apps/" + id + "/secret/rotate", adminToken, null);
        addSecrets(secrets, new JsonObject(rotated.body()));
        // App token rotation, where this build has it.
        HttpResponse<String> tokenRotated =
            gw.send("POST", "/v1/apps/" + id + "/token/rotate", adminToken, null);
        if (tokenRotated.statusCode() == 200) {
          addSecrets(secrets, new JsonObject(tokenRotated.body()));
        }
      }
      String wsToken = wsApp.getString("token");
      List<String> attempts =
          List.of(adminToken + "x", ingestToken.substring(1), wsToken + "0", "gwa_" + random(32));
      secrets.addAll(attempts);

      answers.add(
          gw.send("POST", "/v1/events", ingestToken, Events.batch(List.of(Events.event(m, "e-1"))))
              .body());
      // Every kind of failed authentication, with real tokens in the wrong place and near misses.
      for (String t : List.of(ingestToken, wsToken, attempts.get(0))) {
        answers.add(gw.send("GET", "/v1/apps", t, null).body());
      }
      for (String t : List.of(adminToken, wsToken, attempts.get(1))) {
        answers.add(gw.send("POST", "/v1/events", t, "[]").body());
      }
      for (String t : List.of(adminToken, ingestToken, attempts.get(2), attempts.get(3))) {
        answers.add(gw.send("GET", "/v1/channels", t, null).body());
        answers.add(gw.send("GET", "/v1/merchants/" + m + "/events", t, null).body());
        try (var ws =
            RawHttp.WebSocketConnection.open("127.0.0.1", gw.port, "/v1/stream", t, 10_000)) {
          assertThat(ws.handshake.status()).isEqualTo(401);
        }
      }
      // Malformed requests echo nothing of their credentials either.
      answers.add(gw.send("POST", "/v1/apps", adminToken, "{\"name\":").body());
      answers.add(gw.send("PUT", "/v1/channels/" + m + "/cursor", wsToken, "{\"seq\":-1}").body());
      answers.add(gw.send("GET", "/v1/merchants/" + m + "/events", wsToken, null).body());
      Thread.sleep(1500); // callback attempts against the failing endpoint, and their logs
      answers.add(gw.send("GET", "/metrics", null, null).body());
      for (String id : appIds) {
        answers.add(gw.send("GET", "/v1/apps/" + id + "/endpoint", adminToken, null).body());
        answers.add(gw.send("GET", "/v1/apps/" + id, adminToken, null).body());
      }
    } finally {
      if (gw != null) {
        for (String id : appIds) {
          gw.gateway
              .pool()
              .preparedQuery("DELETE FROM apps WHERE app_id = $1")
              .execute(Tuple.of(UUID.fromString(id)))
              .toCompletionStage()
              .toCompletableFuture()
              .get(10, TimeUnit.SECONDS);
        }
        gw.close();
      }
      root.setLevel(rootLevel);
      root.detachAppender(captured);
      vertx.close().toCompletionStage().toCompletableFuture().join();
    }

    StringBuilder logs = new StringBuilder();
    for (ILoggingEvent e : List.copyOf(captured.list)) {
      logs.append(e.getFormattedMessage()).append('\n');
      if (e.getThrowableProxy() != null) {
        logs.append(ThrowableProxyUtil.asString(e.getThrowableProxy())).append('\n');
      }
    }
    assertThat(logs).as("the capture works").contains("gateway listening");
    assertThat(logs.toString()).as("callback failures were logged").contains("500");
    for (String secret : secrets) {
      assertThat(logs.toString()).as("logs").doesNotContain(secret);
      for (String answer : answers) {
        assertThat(answer).as("an answer").doesNotContain(secret);
      }
    }
  }

  static JsonObject created(HttpResponse<String> r) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return new JsonObject(r.body());
  }

  /** Tokens and secrets as shown, and their random parts, which are secret on their own too. */
  static void addSecrets(List<String> secrets, JsonObject shown) {
    for (String field : List.of("token", "webhookSecret")) {
      String v = shown.getString(field);
      if (v != null) {
        secrets.add(v);
        secrets.add(v.substring(v.indexOf('_') + 1));
      }
    }
  }
}
