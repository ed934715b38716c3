package io.orderpush.gateway;

import io.orderpush.gateway.config.GatewayConfig;
import io.orderpush.persistence.testing.TestServices;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A real gateway for integration tests, on a free port, against the real PostgreSQL and Redis. */
public final class TestGateway implements AutoCloseable {

  public static final String ADMIN_TOKEN = "test-admin-token-0123456789abcdef";
  public static final String INGEST_TOKEN = "test-ingest-token-0123456789abcdef";

  /**
   * The cluster name (and control channel) of this test JVM's gateways: its own, so a gateway left
   * running by an earlier run that died cannot join its clusters and take channels away.
   */
  public static final String CLUSTER =
      TestServices.TEST_DATABASE + "-" + ProcessHandle.current().pid();

  public static final String SECRET_KEY = Base64.getEncoder().encodeToString(new byte[32]);

  public final Gateway gateway;
  public final int port;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private TestGateway(Gateway gateway, int port) {
    this.gateway = gateway;
    this.port = port;
  }

  public static TestGateway start(Map<String, String> overrides) {
    return start(freePort(), overrides);
  }

  /** A gateway listening on {@code port}. */
  public static TestGateway start(int port, Map<String, String> overrides) {
    Map<String, String> env = environment(port);
    env.putAll(overrides);
    Gateway g =
        Gateway.start(GatewayConfig.load(env))
            .toCompletionStage()
            .toCompletableFuture()
            .orTimeout(60, TimeUnit.SECONDS)
            .join();
    return new TestGateway(g, port);
  }

  /** The environment a gateway (in-process or child process) gets in tests. */
  public static Map<String, String> environment(int port) {
    Map<String, String> env = new HashMap<>();
    env.put("GATEWAY_PG_URL", TestServices.pgUrl());
    env.put("GATEWAY_REDIS_URL", TestServices.redisUrl());
    env.put("GATEWAY_HTTP_PORT", Integer.toString(port));
    env.put("GATEWAY_HTTP_HOST", "127.0.0.1");
    env.put("GATEWAY_ADMIN_TOKEN", ADMIN_TOKEN);
    env.put("GATEWAY_INGEST_TOKEN", INGEST_TOKEN);
    env.put("GATEWAY_SECRET_KEY", SECRET_KEY);
    env.put("GATEWAY_HTTP_SHUTDOWN_GRACE_MS", "2000");
    // Test runs sharing one Redis (other databases) do not hear each other's change notices.
    env.put("GATEWAY_CONTROL_CHANNEL", "gw:control:" + CLUSTER);
    // ... nor count each other's nodes as theirs.
    env.put("GATEWAY_CLUSTER_NAME", CLUSTER);
    return env;
  }

  public static int freePort() {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  public HttpResponse<String> send(String method, String path, String token, String body) {
    return send(port, http, method, path, token, body);
  }

  public static HttpResponse<String> send(
      int port, HttpClient http, String method, String path, String token, String body) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(60))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    try {
      return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public HttpResponse<String> ingest(String body) {
    return send("POST", "/v1/events", INGEST_TOKEN, body);
  }

  @Override
  public void close() {
    gateway.stop().toCompletionStage().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }

  /** Runs a statement on this gateway's database; the first column of the first row, or 0. */
  public long sql(String statement) {
    var rows =
        gateway
            .pool()
            .query(statement)
            .execute()
            .toCompletionStage()
            .toCompletableFuture()
            .orTimeout(30, java.util.concurrent.TimeUnit.SECONDS)
            .join();
    var it = rows.iterator();
    return it.hasNext() && it.next().getValue(0) instanceof Number n ? n.longValue() : 0;
  }
}
