package io.orderpush.gateway.ops;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.config.GatewayConfig;
import io.orderpush.persistence.apps.AppStore;
import io.orderpush.persistence.apps.SecretCipher;
import io.orderpush.persistence.apps.SecretUnreadableException;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Key rotation for secrets at rest: seal under key A, rotate to B (A kept as an old key), reseal;
 * then the rows of a database dump open under B alone and under A not at all.
 */
class KeyRotationIT {

  static final SecureRandom RANDOM = new SecureRandom();
  final Vertx vertx = Vertx.vertx();
  final Pool pool = PgPools.create(vertx, TestServices.migratedPg(), "key-rotation-it", 2, 16);
  final List<String> apps = new ArrayList<>();

  @AfterEach
  void cleanUp() {
    for (String id : apps) {
      join(
          pool.preparedQuery("DELETE FROM apps WHERE app_id = $1")
              .execute(Tuple.of(UUID.fromString(id))));
    }
    join(pool.close());
    join(vertx.close());
  }

  static byte[] newKey() {
    byte[] k = new byte[32];
    RANDOM.nextBytes(k);
    return k;
  }

  static Map<String, String> env(byte[] current, byte[]... old) {
    Map<String, String> env = new HashMap<>();
    env.put("GATEWAY_SECRET_KEY", Base64.getEncoder().encodeToString(current));
    List<String> olds = new ArrayList<>();
    for (byte[] k : old) {
      olds.add(Base64.getEncoder().encodeToString(k));
    }
    env.put("GATEWAY_SECRET_KEYS_OLD", String.join(",", olds));
    env.put("GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1");
    return env;
  }

  JsonObject create(TestGateway gw, String body) {
    var r = gw.send("POST", "/v1/apps", TestGateway.ADMIN_TOKEN, body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    apps.add(app.getString("appId"));
    return app;
  }

  @Test
  void shouldResealEverySecretUnderTheNewKeySoTheRetiredKeyOpensNothing() {
    byte[] a = newKey();
    byte[] b = newKey();
    String callbackApp;
    String websocketApp;
    List<String> callbackSecrets = new ArrayList<>(); // current first, then previous
    String websocketSecret;
    try (TestGateway gw = TestGateway.start(env(a))) {
      JsonObject cb =
          create(
              gw,
              "{\"name\":\"rotation-cb\",\"delivery\":{\"mode\":\"callback\","
                  + "\"url\":\"http://127.0.0.1:9/hook\"}}");
      callbackApp = cb.getString("appId");
      var rotated =
          gw.send(
              "POST", "/v1/apps/" + callbackApp + "/secret/rotate", TestGateway.ADMIN_TOKEN, null);
      assertThat(rotated.statusCode()).isEqualTo(200);
      callbackSecrets.add(new JsonObject(rotated.body()).getString("webhookSecret"));
      callbackSecrets.add(cb.getString("webhookSecret"));
      JsonObject ws =
          create(gw, "{\"name\":\"rotation-ws\",\"delivery\":{\"mode\":\"websocket\"}}");
      websocketApp = ws.getString("appId");
      websocketSecret = ws.getString("webhookSecret");
    }
    // A row sealed before key ids were stored.
    join(
        pool.preparedQuery("UPDATE apps SET secret_key_id = NULL WHERE app_id = $1")
            .execute(Tuple.of(UUID.fromString(websocketApp))));
    assertThat(keyIds(callbackApp)).containsExactly(SecretCipher.keyId(a), SecretCipher.keyId(a));

    // Rotate: B seals, A only opens; reseal.
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int status =
        ResealCommand.run(
            GatewayConfig.load(withBase(env(b, a))),
            new PrintStream(out, true, StandardCharsets.UTF_8));
    String report = out.toString(StandardCharsets.UTF_8);
    assertThat(report).contains("re-sealed under key " + SecretCipher.keyId(b));
    assertThat(report).doesNotContain(callbackApp).doesNotContain(websocketApp);
    // Other tests' apps in this database may be sealed under keys this run does not hold.
    int unreadable = Integer.parseInt(report.replaceAll("(?s).*, (\\d+) unreadable.*", "$1"));
    assertThat(status).as(report).isEqualTo(unreadable == 0 ? 0 : 1);

    // The dump: every sealed secret of these apps, under B alone.
    SecretCipher onlyA = new SecretCipher(a);
    SecretCipher onlyB = new SecretCipher(b);
    Map<String, List<String>> expected =
        Map.of(callbackApp, callbackSecrets, websocketApp, List.of(websocketSecret));
    expected.forEach(
        (app, secrets) -> {
          List<byte[]> sealed = sealed(app);
          assertThat(sealed).hasSameSizeAs(secrets);
          byte[] aad = associatedData(UUID.fromString(app));
          for (int i = 0; i < sealed.size(); i++) {
            byte[] s = sealed.get(i);
            assertThatThrownBy(() -> onlyA.decrypt(s, aad))
                .as("the retired key opens nothing")
                .isInstanceOf(SecretUnreadableException.class);
            assertThat(new String(onlyB.decrypt(s, aad), StandardCharsets.UTF_8))
                .isEqualTo(secrets.get(i));
          }
          assertThat(keyIds(app)).allMatch(id -> id == null || id.equals(SecretCipher.keyId(b)));
        });
    assertThat(join(new AppStore(pool, onlyB).signingSecrets(UUID.fromString(callbackApp))))
        .containsExactlyElementsOf(callbackSecrets);

    // A gateway with only the retired key cannot sign for the app; one with only B can.
    try (TestGateway gw = TestGateway.start(env(a))) {
      assertThat(loading(gw, callbackApp)).isEqualTo("unreadable");
    }
    try (TestGateway gw = TestGateway.start(env(b))) {
      assertThat(loading(gw, callbackApp)).isEqualTo("loaded");
    }
  }

  @Test
  void shouldDropAnExpiredPreviousSecretInsteadOfResealingIt() {
    byte[] a = newKey();
    byte[] b = newKey();
    String app;
    try (TestGateway gw = TestGateway.start(env(a))) {
      app =
          create(gw, "{\"name\":\"rotation-expired\",\"delivery\":{\"mode\":\"websocket\"}}")
              .getString("appId");
      gw.send("POST", "/v1/apps/" + app + "/secret/rotate", TestGateway.ADMIN_TOKEN, null);
    }
    join(
        pool.preparedQuery(
                "UPDATE apps SET previous_secret_expires_at = now() - interval '1 second'"
                    + " WHERE app_id = $1")
            .execute(Tuple.of(UUID.fromString(app))));
    ResealCommand.run(
        GatewayConfig.load(withBase(env(b, a))),
        new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
    assertThat(sealed(app)).hasSize(1);
    assertThat(keyIds(app)).containsExactly(SecretCipher.keyId(b), null);
  }

  static Map<String, String> withBase(Map<String, String> keys) {
    Map<String, String> env = TestGateway.environment(TestGateway.freePort());
    env.putAll(keys);
    return env;
  }

  static String loading(TestGateway gw, String appId) {
    JsonObject[] view = new JsonObject[1];
    Await.until(
        "the endpoint of " + appId + " loaded or found unreadable",
        Duration.ofSeconds(20),
        () -> {
          var r = gw.send("GET", "/v1/apps/" + appId + "/endpoint", TestGateway.ADMIN_TOKEN, null);
          view[0] = new JsonObject(r.body());
          return List.of("loaded", "unreadable").contains(view[0].getString("loading"));
        });
    return view[0].getString("loading");
  }

  List<byte[]> sealed(String appId) {
    Row r = row(appId);
    List<byte[]> out = new ArrayList<>();
    out.add(r.getBuffer("secret_ciphertext").getBytes());
    if (r.getBuffer("previous_secret_ciphertext") != null) {
      out.add(r.getBuffer("previous_secret_ciphertext").getBytes());
    }
    return out;
  }

  List<String> keyIds(String appId) {
    Row r = row(appId);
    List<String> ids = new ArrayList<>();
    ids.add(r.getString("secret_key_id"));
    ids.add(r.getString("previous_secret_key_id"));
    return ids;
  }

  Row row(String appId) {
    return join(pool.preparedQuery(
                "SELECT secret_ciphertext, previous_secret_ciphertext, secret_key_id,"
                    + " previous_secret_key_id FROM apps WHERE app_id = $1")
            .execute(Tuple.of(UUID.fromString(appId))))
        .iterator()
        .next();
  }

  static byte[] associatedData(UUID appId) {
    return ByteBuffer.allocate(16)
        .putLong(appId.getMostSignificantBits())
        .putLong(appId.getLeastSignificantBits())
        .array();
  }

  static <T> T join(Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }
}
