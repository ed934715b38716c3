package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonObject;
import io.vertx.core.net.SelfSignedCertificate;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An https endpoint that speaks HTTP/2 gets its callbacks over HTTP/2 (ALPN), on reused
 * connections.
 */
class Http2CallbackIT {

  @Test
  void shouldUseHttp2WithAnEndpointThatOffersIt() throws Exception {
    SelfSignedCertificate cert = SelfSignedCertificate.create("localhost");
    // The gateway trusts the JVM's default trust store; point it at this test's certificate.
    Path trust = Files.createTempFile("callback-trust", ".p12");
    KeyStore ks = KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    try (InputStream in = new FileInputStream(cert.certificatePath())) {
      ks.setCertificateEntry(
          "receiver", CertificateFactory.getInstance("X.509").generateCertificate(in));
    }
    try (OutputStream out = new FileOutputStream(trust.toFile())) {
      ks.store(out, "changeit".toCharArray());
    }
    System.setProperty("javax.net.ssl.trustStore", trust.toString());
    System.setProperty("javax.net.ssl.trustStorePassword", "changeit");
    System.setProperty("javax.net.ssl.trustStoreType", "PKCS12");

    Vertx vertx = Vertx.vertx();
    Set<HttpVersion> versions = ConcurrentHashMap.newKeySet();
    Set<String> connections = ConcurrentHashMap.newKeySet();
    Map<Long, Boolean> seqs = new ConcurrentHashMap<>();
    var server =
        vertx
            .createHttpServer(
                new HttpServerOptions()
                    .setSsl(true)
                    .setUseAlpn(true)
                    .setKeyCertOptions(cert.keyCertOptions()))
            .requestHandler(
                req ->
                    req.body()
                        .onSuccess(
                            b -> {
                              versions.add(req.version());
                              connections.add(req.connection().toString());
                              new JsonObject(b.toString())
                                  .getJsonArray("events")
                                  .forEach(e -> seqs.put(((JsonObject) e).getLong("seq"), true));
                              req.response().setStatusCode(204).end();
                            }));
    int port =
        server
            .listen(0, "127.0.0.1")
            .toCompletionStage()
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS)
            .actualPort();
    try (TestGateway gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1", "GATEWAY_CALLBACK_BATCH_SIZE", "10"))) {
      String m = TestServices.uniqueMerchant("h2");
      JsonObject app =
          new JsonObject(
              gw.send(
                      "POST",
                      "/v1/apps",
                      TestGateway.ADMIN_TOKEN,
                      new JsonObject()
                          .put("name", "h2")
                          .put(
                              "delivery",
                              new JsonObject()
                                  .put("mode", "callback")
                                  .put("url", "https://localhost:" + port + "/hooks"))
                          .encode())
                  .body());
      assertThat(
              gw.send(
                      "PUT",
                      "/v1/merchants/" + m + "/grants/" + app.getString("appId"),
                      TestGateway.ADMIN_TOKEN,
                      "{\"start\":\"earliest\"}")
                  .statusCode())
          .isEqualTo(200);
      gw.ingest(
          Events.batch(
              java.util.stream.IntStream.range(0, 50)
                  .mapToObj(i -> Events.event(m, UUID.randomUUID().toString()))
                  .toList()));
      Await.until("50 events over https", Duration.ofSeconds(30), () -> seqs.size() == 50);
      assertThat(versions).containsExactly(HttpVersion.HTTP_2);
      assertThat(connections).hasSize(1); // five batches, one connection
      gw.gateway
          .pool()
          .preparedQuery("DELETE FROM apps WHERE app_id = $1::uuid")
          .execute(io.vertx.sqlclient.Tuple.of(app.getString("appId")))
          .toCompletionStage()
          .toCompletableFuture()
          .get();
    } finally {
      vertx.close();
    }
  }
}
