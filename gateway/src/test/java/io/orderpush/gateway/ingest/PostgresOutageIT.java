package io.orderpush.gateway.ingest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL is stopped and started again while the marketplace ingests: requests get 503 promptly
 * (none hangs), then succeed again by themselves, and every acknowledged event is in the log
 * exactly once. Needs a local Debian cluster (scripts/services.sh) it may stop, and fails where
 * there is none.
 */
class PostgresOutageIT {

  static String[] cluster() throws Exception {
    int port = URI.create(TestServices.pgUrl()).getPort();
    Process p = new ProcessBuilder("pg_lsclusters", "-h").start();
    String out = new String(p.getInputStream().readAllBytes());
    p.waitFor();
    for (String line : out.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 3 && f[2].equals(Integer.toString(port))) {
        return new String[] {f[0], f[1]};
      }
    }
    return null;
  }

  static void ctl(String[] cluster, String action) throws Exception {
    String failure = tryCtl(cluster, action);
    assertThat(failure).as("pg_ctlcluster " + action).isNull();
  }

  /** Null if pg_ctlcluster succeeded, else what it said; never throws over another failure. */
  static String tryCtl(String[] cluster, String action) {
    try {
      Process p =
          new ProcessBuilder("pg_ctlcluster", cluster[0], cluster[1], action, "-m", "fast")
              .redirectErrorStream(true)
              .start();
      String out = new String(p.getInputStream().readAllBytes());
      int code = p.waitFor();
      return code == 0 ? null : "exit " + code + ": " + out;
    } catch (Exception e) {
      return e.toString();
    }
  }

  @Test
  void shouldAnswer503DuringAnOutageAndKeepEveryAcknowledgedEventOnce() throws Exception {
    String host = URI.create(TestServices.pgUrl()).getHost();
    // It must stop and start PostgreSQL itself. Where it cannot, it fails: a test that skips
    // itself leaves the build green without the outage ever having been tried.
    if (!new File("/usr/bin/pg_ctlcluster").canExecute() || !host.startsWith("127.")) {
      fail(
          "PostgresOutageIT needs a local Debian PostgreSQL cluster it may stop (pg_ctlcluster,"
              + " as scripts/services.sh sets up); the configured PostgreSQL is at "
              + host);
    }
    String[] cluster = cluster();
    if (cluster == null) {
      fail(
          "PostgresOutageIT found no local cluster on the port of "
              + TestServices.pgUrl()
              + " in pg_lsclusters");
    }

    try (TestGateway gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_PG_CONNECT_TIMEOUT_MS", "1000", "GATEWAY_PG_QUERY_TIMEOUT_MS", "3000"))) {
      String m = TestServices.uniqueMerchant("outage");
      Map<String, Long> acked = new ConcurrentHashMap<>();
      AtomicInteger unavailable = new AtomicInteger();
      AtomicInteger other = new AtomicInteger();
      AtomicLong slowest = new AtomicLong();
      AtomicBoolean running = new AtomicBoolean(true);
      AtomicInteger next = new AtomicInteger();
      Thread marketplace =
          new Thread(
              () -> {
                HttpClient http =
                    HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
                while (running.get()) {
                  int b = next.getAndIncrement();
                  List<JsonObject> batch = new ArrayList<>();
                  for (int i = 0; i < 20; i++) {
                    batch.add(Events.event(m, "o-" + b + "-" + i));
                  }
                  // The marketplace retries a batch until it is acknowledged.
                  while (true) {
                    long start = System.nanoTime();
                    HttpResponse<String> r =
                        TestGateway.send(
                            gw.port,
                            http,
                            "POST",
                            "/v1/events",
                            TestGateway.INGEST_TOKEN,
                            Events.batch(batch));
                    slowest.accumulateAndGet(
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start), Math::max);
                    if (r.statusCode() == 200) {
                      JsonArray a = new JsonArray(r.body());
                      for (int i = 0; i < a.size(); i++) {
                        acked.put(
                            a.getJsonObject(i).getString("eventId"),
                            a.getJsonObject(i).getLong("seq"));
                      }
                      break;
                    }
                    if (r.statusCode() == 503) {
                      unavailable.incrementAndGet();
                    } else {
                      other.incrementAndGet();
                    }
                    try {
                      Thread.sleep(100);
                    } catch (InterruptedException e) {
                      return;
                    }
                  }
                }
              });
      marketplace.start();
      String restartFailure;
      try {
        Await.until("some acks", Duration.ofSeconds(30), () -> acked.size() > 200);
        ctl(cluster, "stop");
        Await.until(
            "503 while PostgreSQL is down", Duration.ofSeconds(30), () -> unavailable.get() > 3);
        assertThat(gw.send("GET", "/health/ready", null, null).statusCode()).isEqualTo(503);
      } finally {
        restartFailure = tryCtl(cluster, "start");
      }
      assertThat(restartFailure).as("pg_ctlcluster start").isNull();
      int before = acked.size();
      Await.until(
          "acks again after the restart",
          Duration.ofSeconds(60),
          () -> acked.size() > before + 200);
      running.set(false);
      marketplace.join(60_000);

      assertThat(other.get()).as("answers other than 200 and 503").isZero();
      assertThat(slowest.get()).as("slowest answer, ms (no hanging requests)").isLessThan(30_000);
      Map<String, Long> stored = new ConcurrentHashMap<>();
      for (Row r :
          StreamJoin.join(
              gw.gateway
                  .pool()
                  .preparedQuery("SELECT event_id, seq FROM event_keys WHERE merchant_id = $1")
                  .execute(Tuple.of(m)))) {
        assertThat(stored.put(r.getString(0), r.getLong(1)))
            .as("stored twice: " + r.getString(0))
            .isNull();
      }
      assertThat(stored).containsAllEntriesOf(acked);
      long head = StreamJoin.join(gw.gateway.eventLog().head(gw.gateway.pool(), m));
      assertThat(stored.values())
          .containsExactlyInAnyOrderElementsOf(
              java.util.stream.LongStream.rangeClosed(1, head).boxed().toList());
    }
  }

  static final class StreamJoin {
    static <T> T join(io.vertx.core.Future<T> f) {
      return f.toCompletionStage().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
    }
  }
}
