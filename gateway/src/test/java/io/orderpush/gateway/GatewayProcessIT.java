package io.orderpush.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.persistence.events.EventLog;
import io.orderpush.persistence.events.LoggedEvent;
import io.orderpush.persistence.pg.PgPools;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Pool;
import io.vertx.sqlclient.Row;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Kills and stops the gateway process under load and checks what the marketplace was promised. */
class GatewayProcessIT {

  static final int CLIENTS = 4;
  static final int BATCH = 50;

  static Vertx vertx;
  static Pool pool;

  @BeforeAll
  static void connect() {
    vertx = Vertx.vertx();
    pool = PgPools.create(vertx, TestServices.migratedPg(), "it", 2, 100);
  }

  @AfterAll
  static void close() {
    join(pool.close());
    join(vertx.close());
  }

  /** Load from several clients; remembers what was acked and which batches got no answer. */
  static final class Load {
    final TestRandom random;
    final List<String> merchants = new ArrayList<>();
    final Map<String, Long> acked = new ConcurrentHashMap<>(); // merchant/eventId -> seq
    final ConcurrentLinkedQueue<String> unanswered = new ConcurrentLinkedQueue<>();
    final AtomicInteger refused = new AtomicInteger(); // answered, but not 200
    final AtomicInteger cutOff = new AtomicInteger(); // sent, and the connection went away
    final AtomicInteger neverConnected = new AtomicInteger();
    final AtomicBoolean running = new AtomicBoolean(true);
    final AtomicInteger sequence = new AtomicInteger();
    final ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);

    Load(String prefix, int merchantCount, TestRandom random) {
      this.random = random;
      for (int i = 0; i < merchantCount; i++) {
        merchants.add(TestServices.uniqueMerchant(prefix));
      }
    }

    void start(int port) {
      for (int c = 0; c < CLIENTS; c++) {
        Random choices = random.fork(c);
        threads.submit(
            () -> {
              HttpClient http =
                  HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
              while (running.get()) {
                List<JsonObject> events = new ArrayList<>();
                for (int i = 0; i < BATCH; i++) {
                  String m = merchants.get(choices.nextInt(merchants.size()));
                  events.add(Events.event(m, "ev-" + sequence.incrementAndGet()));
                }
                String body = Events.batch(events);
                try {
                  HttpResponse<String> r =
                      TestGateway.send(
                          port, http, "POST", "/v1/events", TestGateway.INGEST_TOKEN, body);
                  if (r.statusCode() == 200) {
                    record(new JsonArray(r.body()));
                  } else {
                    refused.incrementAndGet();
                    unanswered.add(body);
                  }
                } catch (RuntimeException connectionLost) {
                  (connectionLost.getCause() instanceof java.net.ConnectException
                          ? neverConnected
                          : cutOff)
                      .incrementAndGet();
                  unanswered.add(body);
                }
              }
              return null;
            });
      }
    }

    void record(JsonArray answer) {
      for (int i = 0; i < answer.size(); i++) {
        JsonObject a = answer.getJsonObject(i);
        acked.put(a.getString("merchantId") + "/" + a.getString("eventId"), a.getLong("seq"));
      }
    }

    void awaitAcked(int n) {
      Await.until(
          n + " events acked",
          Duration.ofSeconds(60),
          () -> acked.size() >= n,
          () -> acked.size() + " acked");
    }

    void stop() throws InterruptedException {
      running.set(false);
      threads.shutdown();
      assertThat(threads.awaitTermination(2, TimeUnit.MINUTES)).isTrue();
    }
  }

  @Test
  void shouldKeepEveryAckedEventAcrossSigkillAndTurnRetriesIntoDuplicates() throws Exception {
    int port = TestGateway.freePort();
    Load load = new Load("crash", 20, TestRandom.forTest("GatewayProcessIT.sigkill"));
    // named as Main names a node, so that the test can remove its lease once over
    String firstId = io.orderpush.gateway.config.GatewayConfig.generatedNodeId();
    GatewayProcess first =
        GatewayProcess.start(port, "crash-it-gateway.log", Map.of("GATEWAY_NODE_ID", firstId));
    load.start(port);
    load.awaitAcked(3000);
    first.kill();
    load.stop();
    Map<String, Long> ackedBeforeKill = new HashMap<>(load.acked);

    GatewayProcess second = GatewayProcess.start(port, "crash-it-gateway.log");
    int exit;
    try {
      // Every event acknowledged before the kill is in the log under the seq it was given.
      assertThat(storedSeqs(load.merchants)).containsAllEntriesOf(ackedBeforeKill);
      // The client retries what it never heard back about; nothing is stored twice.
      HttpClient http = HttpClient.newHttpClient();
      for (String body : load.unanswered) {
        HttpResponse<String> r =
            TestGateway.send(port, http, "POST", "/v1/events", TestGateway.INGEST_TOKEN, body);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        load.record(new JsonArray(r.body()));
      }
      Map<String, Long> stored = storedSeqs(load.merchants);
      assertThat(stored).isEqualTo(load.acked);
      assertDenseAndUnique(load.merchants, stored.size());
    } finally {
      exit = stop(second);
      GatewayProcess.forget(firstId);
    }
    assertThat(exit).as("exit code after SIGTERM (-1: did not exit in time)").isZero();
  }

  @Test
  void shouldFinishInFlightCommitsAndExitZeroOnSigterm() throws Exception {
    int port = TestGateway.freePort();
    Load load = new Load("term", 10, TestRandom.forTest("GatewayProcessIT.sigterm"));
    GatewayProcess gateway = GatewayProcess.start(port, "sigterm-it-gateway.log");
    load.start(port);
    load.awaitAcked(2000);
    int exit = stop(gateway);
    load.stop();
    System.out.printf(
        "sigterm: %d events acked; requests refused %d, cut off %d, never connected %d%n",
        load.acked.size(), load.refused.get(), load.cutOff.get(), load.neverConnected.get());

    assertThat(exit).as("exit code after SIGTERM (-1: did not exit in time)").isZero();
    Map<String, Long> stored = storedSeqs(load.merchants);
    // Every request answered 200 is stored, under the seqs it was given.
    assertThat(stored).containsAllEntriesOf(load.acked);
    // Every request SIGTERM cut off or refused is stored whole or not at all: batches are atomic.
    List<String> partial = new ArrayList<>();
    for (String body : load.unanswered) {
      JsonArray events = new JsonArray(body);
      int present = 0;
      for (int i = 0; i < events.size(); i++) {
        JsonObject e = events.getJsonObject(i);
        if (stored.containsKey(e.getString("merchantId") + "/" + e.getString("eventId"))) {
          present++;
        }
      }
      if (present != 0 && present != events.size()) {
        partial.add(
            present
                + " of "
                + events.size()
                + " stored, the batch from "
                + events.getJsonObject(0).getString("eventId"));
      }
    }
    assertThat(partial).as("requests without an answer, stored in part").isEmpty();
    // Each merchant's log stays dense, each event in it once.
    assertDenseAndUnique(load.merchants, -1);
  }

  /** SIGTERM and the exit code; -1 if it did not exit in time. Never throws over a failure. */
  static int stop(GatewayProcess gateway) throws InterruptedException {
    try {
      return gateway.terminate(Duration.ofSeconds(30));
    } catch (IllegalStateException notInTime) {
      return -1;
    }
  }

  /** merchant/eventId -> seq of everything stored for these merchants. */
  static Map<String, Long> storedSeqs(List<String> merchants) {
    Map<String, Long> stored = new HashMap<>();
    for (Row r :
        join(
            pool.preparedQuery(
                    "SELECT merchant_id, event_id, seq FROM event_keys WHERE merchant_id = ANY($1)")
                .execute(Tuple.tuple().addArrayOfString(merchants.toArray(String[]::new))))) {
      Long previous = stored.put(r.getString(0) + "/" + r.getString(1), r.getLong(2));
      assertThat(previous).as("event stored twice: " + r.getString(1)).isNull();
    }
    return stored;
  }

  /** Each merchant's log holds seqs 1..head, each event once; {@code total} < 0 skips the count. */
  static void assertDenseAndUnique(List<String> merchants, int total) {
    EventLog log = new EventLog();
    int count = 0;
    for (String m : merchants) {
      long head = join(log.head(pool, m));
      Set<String> ids = new HashSet<>();
      long expected = 1;
      for (List<LoggedEvent> page; !(page = join(log.read(pool, m, expected, 5000))).isEmpty(); ) {
        for (LoggedEvent e : page) {
          assertThat(e.seq()).isEqualTo(expected++);
          assertThat(ids.add(new JsonObject(e.json()).getString("eventId"))).isTrue();
        }
      }
      assertThat(expected - 1).as("events of " + m).isEqualTo(head);
      count += ids.size();
    }
    if (total >= 0) {
      assertThat(count).isEqualTo(total);
    }
  }

  static <T> T join(io.vertx.core.Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }
}
