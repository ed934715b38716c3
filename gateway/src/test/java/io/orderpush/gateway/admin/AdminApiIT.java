package io.orderpush.gateway.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AdminApiIT {

  static TestGateway gw;
  final List<String> createdApps = new ArrayList<>();

  @BeforeAll
  static void start() {
    gw = TestGateway.start(Map.of());
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @AfterEach
  void deleteApps() {
    for (String id : createdApps) {
      join(
          gw.gateway
              .pool()
              .preparedQuery("DELETE FROM apps WHERE app_id = $1")
              .execute(Tuple.of(UUID.fromString(id))));
    }
  }

  HttpResponse<String> admin(String method, String path, String body) {
    return gw.send(method, path, TestGateway.ADMIN_TOKEN, body);
  }

  JsonObject createApp(JsonObject request) {
    HttpResponse<String> r = admin("POST", "/v1/apps", request.encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    createdApps.add(app.getString("appId"));
    return app;
  }

  @Test
  void shouldCreateAnAppAndShowItsCredentialsOnlyOnce() {
    JsonObject created =
        createApp(
            new JsonObject()
                .put("name", "warehouse")
                .put(
                    "delivery",
                    new JsonObject()
                        .put("mode", "callback")
                        .put("url", "https://203.0.113.10/hooks")));
    String id = created.getString("appId");
    assertThat(created.getString("token")).startsWith("gwa_").hasSizeGreaterThan(40);
    assertThat(created.getString("webhookSecret")).startsWith("whsec_");
    assertThat(created.getJsonObject("delivery").getString("url"))
        .isEqualTo("https://203.0.113.10/hooks");

    JsonObject got = new JsonObject(admin("GET", "/v1/apps/" + id, null).body());
    assertThat(got.getString("name")).isEqualTo("warehouse");
    assertThat(got.fieldNames()).doesNotContain("token", "webhookSecret");
    JsonArray listed =
        new JsonObject(admin("GET", "/v1/apps?limit=500", null).body()).getJsonArray("apps");
    assertThat(listed.stream().map(a -> ((JsonObject) a).getString("appId"))).contains(id);
    assertThat(listed.encode())
        .doesNotContain(created.getString("token"), created.getString("webhookSecret"));
  }

  @Test
  void shouldStoreTheTokenHashedAndTheSecretEncryptedSoADumpYieldsNoCredential() {
    JsonObject created =
        createApp(
            new JsonObject()
                .put("name", "crm")
                .put("delivery", new JsonObject().put("mode", "websocket")));
    Row row =
        join(gw.gateway
                .pool()
                .preparedQuery("SELECT * FROM apps WHERE app_id = $1")
                .execute(Tuple.of(UUID.fromString(created.getString("appId")))))
            .iterator()
            .next();
    StringBuilder dump = new StringBuilder();
    for (int i = 0; i < row.size(); i++) {
      Object v = row.getValue(i);
      dump.append(
              v instanceof io.vertx.core.buffer.Buffer b
                  ? new String(b.getBytes(), StandardCharsets.ISO_8859_1)
                  : v)
          .append('|');
    }
    String token = created.getString("token");
    String secret = created.getString("webhookSecret");
    assertThat(dump.toString())
        .doesNotContain(token, token.substring(4), secret, secret.substring(6));
    // ...while the gateway, which has the key, can read the secret back to sign with it.
    assertThat(
            join(
                new io.orderpush.persistence.apps.AppStore(
                        gw.gateway.pool(),
                        new io.orderpush.persistence.apps.SecretCipher(new byte[32]))
                    .webhookSecret(UUID.fromString(created.getString("appId")))))
        .isEqualTo(secret);
  }

  @Test
  void shouldGrantRevokeAndListGrantsStartingAfterTheMerchantsHead() {
    String merchant = TestServices.uniqueMerchant("grant");
    assertThat(
            gw.ingest(
                    Events.batch(List.of(Events.event(merchant, "1"), Events.event(merchant, "2"))))
                .statusCode())
        .isEqualTo(200);
    String id =
        createApp(
                new JsonObject()
                    .put("name", "erp")
                    .put("delivery", new JsonObject().put("mode", "websocket")))
            .getString("appId");
    String path = "/v1/merchants/" + merchant + "/grants/" + id;

    HttpResponse<String> granted = admin("PUT", path, "{\"scopes\":[\"pii\"]}");
    assertThat(granted.statusCode()).as(granted.body()).isEqualTo(200);
    assertThat(new JsonObject(granted.body()).getLong("startSeq")).isEqualTo(2);
    assertThat(new JsonObject(granted.body()).getJsonArray("scopes")).containsExactly("pii");

    String other = TestServices.uniqueMerchant("grant");
    HttpResponse<String> earliest =
        admin("PUT", "/v1/merchants/" + other + "/grants/" + id, "{\"start\":\"earliest\"}");
    assertThat(new JsonObject(earliest.body()).getLong("startSeq")).isZero();

    JsonArray grants =
        new JsonObject(admin("GET", "/v1/apps/" + id + "/grants", null).body())
            .getJsonArray("grants");
    assertThat(grants.stream().map(g -> ((JsonObject) g).getString("merchantId")))
        .containsExactlyInAnyOrder(merchant, other);

    assertThat(admin("DELETE", path, null).statusCode()).isEqualTo(204);
    assertThat(admin("DELETE", path, null).statusCode()).isEqualTo(404);
    grants =
        new JsonObject(admin("GET", "/v1/apps/" + id + "/grants", null).body())
            .getJsonArray("grants");
    assertThat(grants.stream().map(g -> ((JsonObject) g).getString("merchantId")))
        .containsExactly(other);
  }

  @Test
  void shouldRefuseWrongTokensAndBadInputWithClearErrors() {
    String body = "{\"name\":\"x\",\"delivery\":{\"mode\":\"websocket\"}}";
    assertThat(gw.send("POST", "/v1/apps", null, body).statusCode()).isEqualTo(401);
    assertThat(gw.send("POST", "/v1/apps", "not-the-admin-token-at-all-000", body).statusCode())
        .isEqualTo(401);
    assertThat(gw.send("POST", "/v1/apps", TestGateway.INGEST_TOKEN, body).statusCode())
        .isEqualTo(401);
    assertThat(gw.send("GET", "/v1/apps", TestGateway.INGEST_TOKEN, null).statusCode())
        .isEqualTo(401);

    assertError(admin("POST", "/v1/apps", "{"), 400, "malformed_json");
    assertError(admin("POST", "/v1/apps", "[]"), 400, "invalid_request");
    assertError(
        admin("POST", "/v1/apps", "{\"delivery\":{\"mode\":\"websocket\"}}"),
        400,
        "invalid_request");
    assertError(
        admin("POST", "/v1/apps", "{\"name\":\"x\",\"delivery\":{\"mode\":\"carrier-pigeon\"}}"),
        400,
        "invalid_request");
    assertError(
        admin("POST", "/v1/apps", "{\"name\":\"x\",\"delivery\":{\"mode\":\"callback\"}}"),
        400,
        "invalid_request");
    assertError(
        admin(
            "POST",
            "/v1/apps",
            "{\"name\":\"x\",\"delivery\":{\"mode\":\"callback\",\"url\":\"ftp://h/x\"}}"),
        400,
        "invalid_request");
    assertError(admin("GET", "/v1/apps/" + UUID.randomUUID(), null), 404, "not_found");
    assertError(admin("GET", "/v1/apps/not-a-uuid", null), 404, "not_found");
    assertError(admin("GET", "/v1/apps?limit=0", null), 400, "invalid_request");
    assertError(
        admin("PUT", "/v1/merchants/m-1/grants/" + UUID.randomUUID(), "{}"), 404, "not_found");
    assertError(admin("GET", "/v1/apps/" + UUID.randomUUID() + "/grants", null), 404, "not_found");
    String id =
        createApp(
                new JsonObject()
                    .put("name", "x")
                    .put("delivery", new JsonObject().put("mode", "websocket")))
            .getString("appId");
    assertError(
        admin("PUT", "/v1/merchants/m-1/grants/" + id, "{\"scopes\":[\"everything\"]}"),
        400,
        "invalid_request");
    assertError(
        admin("PUT", "/v1/merchants/m-1/grants/" + id, "{\"start\":\"yesterday\"}"),
        400,
        "invalid_request");
    assertError(admin("PUT", "/v1/merchants/bad%20id/grants/" + id, "{}"), 400, "invalid_request");
  }

  HttpResponse<String> createCallbackApp(String url) {
    return admin(
        "POST",
        "/v1/apps",
        new JsonObject()
            .put("name", "hostile")
            .put("delivery", new JsonObject().put("mode", "callback").put("url", url))
            .encode());
  }

  /** Each of these was answered 201 or 503 before: never 400 with the field named. */
  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "http://[::1%25eth0]/x | callback_url_refused",
        "http://[2001:4860:4860::8888%25eth0]/x | callback_url_refused",
        "http://[fe80::1%eth0]/x | callback_url_refused",
        "http://0x7f000001/x | callback_url_refused",
        "http://0177.0.0.1/x | callback_url_refused",
        "http://127.1/x | callback_url_refused",
        "http://2130706433/x | callback_url_refused",
        "http://[64:ff9b::7f00:1]/x | callback_url_refused",
        "http://[2002:7f00:1::]/x | callback_url_refused",
        "http://198.18.0.1/x | callback_url_refused",
        "http://192.0.0.170/x | callback_url_refused",
        "http://240.0.0.1/x | callback_url_refused",
        "http://does-not-resolve.invalid/x | callback_url_refused",
        "http://a_b.example.com/x | invalid_request",
        "http://8.8.8.8:0/x | invalid_request",
        "http://8.8.8.8:65536/x | invalid_request",
        "http://8.8.8.8:99999999999/x | invalid_request",
        "HTTPS://8.8.8.8/x | invalid_request",
        "http://8.8.8.8/\u00e4 | invalid_request",
        "http://xn--nxasmq6b.\u00e4.com/x | invalid_request",
        "http://:80/x | invalid_request",
        "http:8.8.8.8 | invalid_request",
        "http://user@8.8.8.8/x | invalid_request"
      })
  void shouldRefuseAHostileCallbackUrlWith400NamingTheField(String url, String code) {
    HttpResponse<String> r = createCallbackApp(url);
    if (r.statusCode() == 201) {
      createdApps.add(new JsonObject(r.body()).getString("appId"));
    }
    assertError(r, 400, code);
    assertThat(new JsonObject(r.body()).getJsonArray("details").getJsonObject(0).getString("field"))
        .as(r.body())
        .isEqualTo("delivery.url");
  }

  @Test
  void shouldRefuseACallbackUrlLongerThanTheLimitOrAHostLongerThan253Characters() {
    String label = "a".repeat(63);
    String host = String.join(".", label, label, label, label) + ".com";
    assertError(createCallbackApp("https://" + host + "/x"), 400, "invalid_request");
    assertError(
        createCallbackApp("https://8.8.8.8/" + "x".repeat(AppsApi.MAX_URL)),
        400,
        "invalid_request");
  }

  @Test
  void shouldRefuseAnAppNameWithALoneSurrogateOrControlCharacters() {
    for (String name : List.of("erp-\\ud800", "erp-\\udc00x", "erp\\u0000", "x".repeat(201))) {
      HttpResponse<String> r =
          admin(
              "POST",
              "/v1/apps",
              "{\"name\":\"" + name + "\",\"delivery\":{\"mode\":\"websocket\"}}");
      if (r.statusCode() == 201) {
        createdApps.add(new JsonObject(r.body()).getString("appId"));
      }
      assertError(r, 400, "invalid_request");
      assertThat(
              new JsonObject(r.body()).getJsonArray("details").getJsonObject(0).getString("field"))
          .isEqualTo("name");
    }
  }

  @Test
  void shouldRefuseAGrantListCursorThatIsNotAMerchantId() {
    String id =
        createApp(
                new JsonObject()
                    .put("name", "x")
                    .put("delivery", new JsonObject().put("mode", "websocket")))
            .getString("appId");
    assertError(
        admin("GET", "/v1/apps/" + id + "/grants?after=" + "m".repeat(65), null),
        400,
        "invalid_request");
  }

  static void assertError(HttpResponse<String> r, int status, String code) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(new JsonObject(r.body()).getString("error")).as(r.body()).isEqualTo(code);
  }

  static <T> T join(io.vertx.core.Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }
}
