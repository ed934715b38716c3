package io.orderpush.gateway.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.orderpush.client.CallbackReceiver;
import io.orderpush.client.JdbcAppliedStore;
import io.orderpush.client.WebhookVerificationException;
import io.orderpush.client.WebhookVerifier;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestApps;
import io.orderpush.gateway.TestGateway;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.sql.Connection;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The client library's callback side against a real gateway: a plain JDK HTTP server hands each
 * POST's bytes and headers to a {@link CallbackReceiver}, which verifies the gateway's real
 * Standard Webhooks signatures, applies each event once through a JDBC store, and refuses tampered
 * bodies, stale timestamps and wrong secrets.
 */
class ClientCallbackIT {

  static final Duration WAIT = Duration.ofSeconds(60);
  static TestGateway gw;

  /** A request as received: exact body, headers, and what the receiver answered. */
  record Received(byte[] body, Map<String, String> headers, int status) {}

  final List<String> apps = new ArrayList<>();
  final List<Received> received = new CopyOnWriteArrayList<>();
  volatile CallbackReceiver<Connection> receiver;
  HttpServer server;
  ExecutorService threads;
  IsvDatabase db;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "50",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "400"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @AfterEach
  void cleanUp() {
    NoStuckChannels.check(gw);
    TestApps.deleteRows(gw, apps);
    if (server != null) {
      server.stop(0);
      threads.shutdownNow();
    }
    if (db != null) {
      db.close();
    }
  }

  @Test
  void shouldApplyTheGatewaysSignedBatchesOnceAndSkipARedelivery() throws Exception {
    List<String> merchants = ClientConsumerIT.merchants(2);
    JsonObject app = callbackApp(merchants);
    JdbcAppliedStore store = db.store();
    receiver =
        new CallbackReceiver<>(
            new WebhookVerifier(app.getString("webhookSecret")),
            store,
            (batch, tx) -> db.insert(tx, batch, "cb"));
    Map<String, Integer> expected = new LinkedHashMap<>();
    for (String m : merchants) {
      for (int i = 0; i < 3; i++) {
        ingest(m, i * 100, 100);
      }
      expected.put(m, 300);
    }
    Await.until(
        "600 events applied",
        WAIT,
        () -> db.rows() >= 600 && !received.isEmpty(),
        () -> "rows " + db.rows() + ", answers " + statuses());
    db.assertExactlyOnce(expected);
    assertThat(received).allMatch(r -> r.status() == 204, "every request answered 204");

    Received again = received.get(0);
    CallbackReceiver.Result r = receiver.handle(again.body(), again.headers());
    assertThat(r.status()).as("a redelivered batch is acknowledged").isEqualTo(204);
    assertThat(db.rows()).as("and not applied twice").isEqualTo(600);
  }

  @Test
  void shouldRefuseTamperedBodiesStaleTimestampsAndWrongSecrets() throws Exception {
    String merchant = ClientConsumerIT.merchants(1).get(0);
    JsonObject app = callbackApp(List.of(merchant));
    String secret = app.getString("webhookSecret");
    receiver =
        new CallbackReceiver<>(
            new WebhookVerifier(secret), db.store(), (batch, tx) -> db.insert(tx, batch, "cb"));
    ingest(merchant, 0, 5);
    // received: the request is listed only after the receiver has applied it
    Await.until("a batch received", WAIT, () -> db.rows() >= 5 && !received.isEmpty());
    Received real = received.get(0);
    long ts = Long.parseLong(real.headers().get("webhook-timestamp"));

    WebhookVerifier right = verifierAt(secret, ts + 60);
    right.verify(real.body(), real.headers());

    byte[] tampered = real.body().clone();
    String text = new String(tampered, StandardCharsets.UTF_8);
    int at = text.indexOf("order.created") + 6;
    tampered[at] = (byte) 'X';
    assertRefused(right, tampered, real.headers(), "no valid v1 signature");

    Map<String, String> otherId = new TreeMap<>(real.headers());
    otherId.put("webhook-id", otherId.get("webhook-id") + "x");
    assertRefused(right, real.body(), otherId, "no valid v1 signature");

    assertRefused(verifierAt(secret, ts + 301), real.body(), real.headers(), "tolerance");
    assertRefused(verifierAt(secret, ts - 301), real.body(), real.headers(), "tolerance");
    verifierAt(secret, ts + 299).verify(real.body(), real.headers());

    assertRefused(verifierAt(randomSecret(), ts), real.body(), real.headers(), "no valid v1");

    Map<String, String> noSignature = new TreeMap<>(real.headers());
    noSignature.remove("webhook-signature");
    assertRefused(right, real.body(), noSignature, "missing header");

    // through the receiver: refused with 401, nothing applied
    long rows = db.rows();
    assertThat(receiver.handle(tampered, real.headers()).status()).isEqualTo(401);
    assertThat(db.rows()).isEqualTo(rows);
  }

  @Test
  void shouldAcceptEitherSecretWhileTheGatewaySignsWithBothAfterARotation() throws Exception {
    String merchant = ClientConsumerIT.merchants(1).get(0);
    JsonObject app = callbackApp(List.of(merchant));
    String old = app.getString("webhookSecret");
    var rotated =
        gw.send(
            "POST",
            "/v1/apps/" + app.getString("appId") + "/secret/rotate",
            TestGateway.ADMIN_TOKEN,
            null);
    assertThat(rotated.statusCode()).as(rotated.body()).isEqualTo(200);
    String fresh = new JsonObject(rotated.body()).getString("webhookSecret");
    receiver =
        new CallbackReceiver<>(
            new WebhookVerifier(fresh), db.store(), (batch, tx) -> db.insert(tx, batch, "cb"));
    ingest(merchant, 0, 3);
    Await.until(
        "a batch applied with the new secret", WAIT, () -> db.rows() >= 3 && !received.isEmpty());
    Received real = received.get(0);
    assertThat(real.headers().get("webhook-signature").split(" ")).hasSize(2);
    long ts = Long.parseLong(real.headers().get("webhook-timestamp"));

    verifierAt(old, ts).verify(real.body(), real.headers());
    verifierAt(fresh, ts).verify(real.body(), real.headers());
    new WebhookVerifier(
            List.of(randomSecret(), old), WebhookVerifier.DEFAULT_TOLERANCE, clockAt(ts))
        .verify(real.body(), real.headers());
    assertRefused(verifierAt(randomSecret(), ts), real.body(), real.headers(), "no valid v1");
  }

  // --- helpers

  private JsonObject callbackApp(List<String> merchants) throws IOException {
    db = new IsvDatabase("cb");
    threads = Executors.newFixedThreadPool(4);
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.setExecutor(threads);
    server.createContext(
        "/hooks",
        ex -> {
          byte[] body = ex.getRequestBody().readAllBytes();
          Map<String, String> headers = new TreeMap<>();
          ex.getRequestHeaders()
              .forEach((k, v) -> headers.put(k.toLowerCase(java.util.Locale.ROOT), v.get(0)));
          CallbackReceiver<Connection> r = receiver;
          // the server's own header map (JDK Headers, names capitalised) goes to the receiver
          int status = r == null ? 503 : r.handle(body, ex.getRequestHeaders()).status();
          received.add(new Received(body, headers, status));
          ex.sendResponseHeaders(status, -1);
          ex.close();
        });
    server.start();
    String url = "http://127.0.0.1:" + server.getAddress().getPort() + "/hooks";
    TestApps.Created app = TestApps.create(gw, "client-cb", url);
    apps.add(app.appId());
    for (String m : merchants) {
      TestApps.grant(gw, m, app.appId(), "{\"start\":\"earliest\"}");
    }
    return new JsonObject().put("appId", app.appId()).put("webhookSecret", app.webhookSecret());
  }

  private static void ingest(String merchant, int from, int n) {
    ClientConsumerIT.ingestTo(gw, merchant, from, n);
  }

  private String statuses() {
    return received.stream().map(r -> Integer.toString(r.status())).distinct().toList().toString();
  }

  private static Clock clockAt(long epochSecond) {
    return Clock.fixed(Instant.ofEpochSecond(epochSecond), ZoneOffset.UTC);
  }

  private static WebhookVerifier verifierAt(String secret, long epochSecond) {
    return new WebhookVerifier(
        List.of(secret), WebhookVerifier.DEFAULT_TOLERANCE, clockAt(epochSecond));
  }

  private static String randomSecret() {
    byte[] key = new byte[32];
    new SecureRandom().nextBytes(key);
    return "whsec_" + Base64.getEncoder().encodeToString(key);
  }

  private static void assertRefused(
      WebhookVerifier v, byte[] body, Map<String, String> headers, String why) {
    assertThatThrownBy(() -> v.verify(body, headers))
        .isInstanceOf(WebhookVerificationException.class)
        .hasMessageContaining(why);
  }
}
