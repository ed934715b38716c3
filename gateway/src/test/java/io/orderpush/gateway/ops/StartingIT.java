package io.orderpush.gateway.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.pg.PgSettings;
import io.orderpush.persistence.testing.TestServices;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * While a node migrates its schema and starts, its port answers: alive, not ready, every request
 * 503 with Retry-After. An orchestrator's liveness check then does not kill a long migration (and
 * roll it back to start over), and clients are told to come back instead of finding no listener.
 */
class StartingIT {

  static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

  @Test
  void shouldAnswerLiveAndNotReadyWhileTheSchemaMigrationWaits() throws Exception {
    PgSettings pg = TestServices.migratedPg();
    int port = TestGateway.freePort();
    CompletableFuture<TestGateway> started;
    // The migration's first read of its history table waits for this transaction.
    try (Connection holder = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        Statement s = holder.createStatement()) {
      holder.setAutoCommit(false);
      s.execute("LOCK TABLE flyway_schema_history IN ACCESS EXCLUSIVE MODE");
      started = CompletableFuture.supplyAsync(() -> TestGateway.start(port, Map.of()));
      try {
        Await.until(
            "the starting node to answer on its port",
            Duration.ofSeconds(30),
            () -> status(port, "GET", "/health/live") == 200,
            () -> "start: " + started);
        // the port answers from before the migration starts: wait until it waits for the lock
        Await.until(
            "the migration to wait for the lock",
            Duration.ofSeconds(30),
            () -> migrationWaiting(pg));

        HttpResponse<String> live = send(port, "GET", "/health/live");
        assertThat(live.body()).isEqualTo("{\"status\":\"starting\"}");
        HttpResponse<String> ready = send(port, "GET", "/health/ready");
        assertThat(ready.statusCode()).isEqualTo(503);
        assertThat(ready.headers().firstValue("Retry-After")).isPresent();
        HttpResponse<String> ingest = send(port, "POST", "/v1/events");
        assertThat(ingest.statusCode()).isEqualTo(503);
        assertThat(ingest.headers().firstValue("Retry-After")).isPresent();
        assertThat(ingest.body()).contains("\"error\":\"unavailable\"");
        assertThat(live.headers().firstValue("X-Request-Id")).isPresent();
        assertThat(started).as("the node started while its migration waited").isNotDone();
      } catch (AssertionError | RuntimeException e) {
        // the node goes on starting once the lock is gone: stop it, or it stays in this JVM
        holder.rollback();
        started.orTimeout(60, TimeUnit.SECONDS).join().close();
        throw e;
      } finally {
        holder.rollback();
      }
    }
    try (TestGateway gw = started.orTimeout(60, TimeUnit.SECONDS).join()) {
      assertThat(send(port, "GET", "/health/live").body()).isEqualTo("{\"status\":\"live\"}");
      Await.until(
          "the node to be ready",
          Duration.ofSeconds(30),
          () -> status(port, "GET", "/health/ready") == 200,
          () -> "ready: " + status(port, "GET", "/health/ready"));
    }
  }

  static boolean migrationWaiting(PgSettings pg) {
    try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        Statement s = c.createStatement();
        var rs =
            s.executeQuery(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND wait_event_type = 'Lock' AND query ILIKE '%flyway_schema_history%'")) {
      rs.next();
      return rs.getLong(1) > 0;
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  static HttpResponse<String> send(int port, String method, String path) {
    try {
      return HTTP.send(
          HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
              .timeout(Duration.ofSeconds(5))
              .method(method, HttpRequest.BodyPublishers.noBody())
              .build(),
          HttpResponse.BodyHandlers.ofString());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static int status(int port, String method, String path) {
    try {
      return send(port, method, path).statusCode();
    } catch (java.io.UncheckedIOException e) {
      return -1;
    }
  }
}
