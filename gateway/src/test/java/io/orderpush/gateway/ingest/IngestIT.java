package io.orderpush.gateway.ingest;

import static io.orderpush.gateway.Events.batch;
import static io.orderpush.gateway.Events.event;
import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.events.LoggedEvent;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.sqlclient.Tuple;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class IngestIT {

  static TestGateway gw;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_INGEST_MAX_REQUEST_BYTES",
                "262144",
                "GATEWAY_INGEST_MAX_DATA_BYTES",
                "4096"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  long head(String merchant) {
    return join(gw.gateway.eventLog().head(gw.gateway.pool(), merchant));
  }

  long storedKeys(String merchant) {
    return join(gw.gateway
            .pool()
            .preparedQuery("SELECT count(*) FROM event_keys WHERE merchant_id = $1")
            .execute(Tuple.of(merchant)))
        .iterator()
        .next()
        .getLong(0);
  }

  @Test
  void shouldKeepOneMerchantsSeqsDenseAndInCommitOrderUnderSixteenConcurrentClients()
      throws Exception {
    String m = TestServices.uniqueMerchant("dense");
    int clients = 16;
    int perClient = 5000;
    int batchSize = 100;
    ExecutorService pool = Executors.newFixedThreadPool(clients + 1);
    AtomicBoolean writing = new AtomicBoolean(true);
    List<String> readerProblems = new CopyOnWriteArrayList<>();
    Map<String, Long> seqByEvent = new ConcurrentHashMap<>();
    // The reader asks for everything after the last seq it saw; if seq n were visible before
    // some seq < n, the answer would start past last + 1.
    Future<Long> reader =
        pool.submit(
            () -> {
              long last = 0;
              while (true) {
                // read the flag before the page: a page read while the last batch committed can
                // be empty although writing has ended by the time it comes back
                boolean writersDone = !writing.get();
                List<LoggedEvent> page =
                    join(gw.gateway.eventLog().read(gw.gateway.pool(), m, last + 1, 5000));
                for (LoggedEvent e : page) {
                  if (e.seq() != last + 1) {
                    readerProblems.add("saw seq " + e.seq() + " right after " + last);
                  }
                  last = e.seq();
                }
                if (writersDone && page.isEmpty()) {
                  break;
                }
              }
              return last;
            });
    List<Future<?>> writers = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      int client = c;
      writers.add(
          pool.submit(
              () -> {
                for (int b = 0; b < perClient / batchSize; b++) {
                  int first = b * batchSize;
                  List<JsonObject> events =
                      IntStream.range(first, first + batchSize)
                          .mapToObj(i -> event(m, "c" + client + "-" + i))
                          .toList();
                  HttpResponse<String> r = gw.ingest(batch(events));
                  assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                  JsonArray answer = new JsonArray(r.body());
                  for (int i = 0; i < answer.size(); i++) {
                    JsonObject a = answer.getJsonObject(i);
                    assertThat(a.getString("eventId"))
                        .isEqualTo(events.get(i).getString("eventId"));
                    assertThat(a.getBoolean("duplicate")).isFalse();
                    seqByEvent.put(a.getString("eventId"), a.getLong("seq"));
                  }
                }
                return null;
              }));
    }
    try {
      for (Future<?> w : writers) {
        w.get(5, TimeUnit.MINUTES);
      }
    } finally {
      writing.set(false);
    }
    long lastSeen = reader.get(1, TimeUnit.MINUTES);
    pool.shutdown();

    int total = clients * perClient;
    assertThat(readerProblems).isEmpty();
    assertThat(lastSeen).isEqualTo(total);
    assertThat(seqByEvent).hasSize(total);
    assertThat(new HashSet<>(seqByEvent.values())).hasSize(total);
    assertThat(head(m)).isEqualTo(total);
    assertThat(storedKeys(m)).isEqualTo(total);
    List<LoggedEvent> all = new ArrayList<>();
    for (List<LoggedEvent> page;
        !(page = join(gw.gateway.eventLog().read(gw.gateway.pool(), m, all.size() + 1, 5000)))
            .isEmpty(); ) {
      all.addAll(page);
    }
    assertThat(all)
        .extracting(LoggedEvent::seq)
        .containsExactlyElementsOf(
            IntStream.rangeClosed(1, total).mapToObj(i -> (long) i).toList());
    for (LoggedEvent e : all) {
      String id = new JsonObject(e.json()).getString("eventId");
      assertThat(seqByEvent.get(id)).isEqualTo(e.seq());
    }
  }

  @Test
  void shouldAnswerConcurrentRetriesWithTheOriginalSeqAndStoreEachEventOnce() throws Exception {
    String m = TestServices.uniqueMerchant("retry");
    List<JsonObject> events = IntStream.range(0, 200).mapToObj(i -> event(m, "r-" + i)).toList();
    String body = batch(events);
    int retries = 8;
    CyclicBarrier together = new CyclicBarrier(retries);
    ExecutorService pool = Executors.newFixedThreadPool(retries);
    List<Future<JsonArray>> answers = new ArrayList<>();
    for (int i = 0; i < retries; i++) {
      answers.add(
          pool.submit(
              () -> {
                together.await();
                HttpResponse<String> r = gw.ingest(body);
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                return new JsonArray(r.body());
              }));
    }
    Map<String, Set<Long>> seqs = new ConcurrentHashMap<>();
    Map<String, Integer> originals = new ConcurrentHashMap<>();
    for (Future<JsonArray> f : answers) {
      JsonArray a = f.get(1, TimeUnit.MINUTES);
      assertThat(a).hasSize(events.size());
      for (int i = 0; i < a.size(); i++) {
        JsonObject r = a.getJsonObject(i);
        seqs.computeIfAbsent(r.getString("eventId"), k -> ConcurrentHashMap.newKeySet())
            .add(r.getLong("seq"));
        if (!r.getBoolean("duplicate")) {
          originals.merge(r.getString("eventId"), 1, Integer::sum);
        }
      }
    }
    pool.shutdown();
    assertThat(seqs).hasSize(200).allSatisfy((id, s) -> assertThat(s).hasSize(1));
    assertThat(originals).hasSize(200).allSatisfy((id, n) -> assertThat(n).isEqualTo(1));
    assertThat(head(m)).isEqualTo(200);
    assertThat(storedKeys(m)).isEqualTo(200);
    // Request order is answer order, and one batch gets consecutive seqs.
    JsonArray any = answers.get(0).get();
    for (int i = 0; i < any.size(); i++) {
      assertThat(any.getJsonObject(i).getString("eventId")).isEqualTo("r-" + i);
      assertThat(any.getJsonObject(i).getLong("seq")).isEqualTo(i + 1L);
    }
  }

  @Test
  void shouldAcceptNdjsonAndAnswerInRequestOrder() {
    String a = TestServices.uniqueMerchant("nd");
    String b = TestServices.uniqueMerchant("nd");
    String body =
        event(a, "1").encode()
            + "\n"
            + event(b, "1").encode()
            + "\r\n\n"
            + event(a, "2").encode()
            + "\n";
    HttpResponse<String> r = gw.send("POST", "/v1/events", TestGateway.INGEST_TOKEN, body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    JsonArray answer = new JsonArray(r.body());
    assertThat(
            answer.stream()
                .map(
                    o ->
                        ((JsonObject) o).getString("merchantId")
                            + "#"
                            + ((JsonObject) o).getLong("seq")))
        .containsExactly(a + "#1", b + "#1", a + "#2");
  }

  @Test
  void shouldWriteNothingWhenOneEventOfTheBatchIsInvalid() {
    String m = TestServices.uniqueMerchant("atomic");
    List<JsonObject> events =
        new ArrayList<>(IntStream.range(0, 10).mapToObj(i -> event(m, "a-" + i)).toList());
    events.get(7).put("occurredAt", "not a time");
    events.get(3).remove("orderId");
    HttpResponse<String> r = gw.ingest(batch(events));

    assertThat(r.statusCode()).isEqualTo(400);
    JsonObject error = new JsonObject(r.body());
    assertThat(error.getString("error")).isEqualTo("invalid_events");
    assertThat(
            error.getJsonArray("details").stream()
                .map(
                    d ->
                        ((JsonObject) d).getInteger("index")
                            + ":"
                            + ((JsonObject) d).getString("field")))
        .containsExactlyInAnyOrder("3:orderId", "7:occurredAt");
    assertThat(head(m)).isZero();
    assertThat(storedKeys(m)).isZero();
  }

  @Test
  void shouldRefuseTwoIdsDifferingOnlyInALoneSurrogateInsteadOfStoringOneAsADuplicate() {
    String m = TestServices.uniqueMerchant("surrogate");
    // The escapes stay in the JSON text: a Java string holding the bare surrogate would already
    // be mangled by the test's own UTF-8 encoding, before the gateway saw it.
    for (String loneSurrogate : List.of("\\ud800", "\\ud801")) {
      String body = batch(List.of(event(m, "e-SURROGATE"))).replace("SURROGATE", loneSurrogate);
      HttpResponse<String> r = gw.ingest(body);

      assertThat(r.statusCode()).as(r.body()).isEqualTo(400);
      JsonObject error = new JsonObject(r.body());
      assertThat(error.getString("error")).isEqualTo("invalid_events");
      JsonObject detail = error.getJsonArray("details").getJsonObject(0);
      assertThat(detail.getInteger("index")).isZero();
      assertThat(detail.getString("field")).isEqualTo("eventId");
      assertThat(detail.getString("problem")).contains("unpaired UTF-16 surrogate");
    }
    assertThat(head(m)).isZero();
    assertThat(storedKeys(m)).isZero();
  }

  @Test
  void shouldAnswerBadInputWithClearClientErrorsAndNeverA500() throws Exception {
    String m = TestServices.uniqueMerchant("bad");
    String ok = batch(List.of(event(m, "1")));
    assertStatus(gw.send("POST", "/v1/events", null, ok), 401, "unauthorized");
    assertStatus(
        gw.send("POST", "/v1/events", "wrong-token-wrong-token-wrong", ok), 401, "unauthorized");
    assertStatus(gw.send("POST", "/v1/events", TestGateway.ADMIN_TOKEN, ok), 401, "unauthorized");
    assertStatus(gw.ingest("[{\"eventId\": "), 400, "malformed_json");
    assertStatus(gw.ingest("[1, 2] x"), 400, "malformed_json");
    assertStatus(gw.ingest(""), 400, "invalid_request");
    assertStatus(gw.ingest("[]"), 400, "invalid_request");
    assertStatus(gw.ingest("[\"text\"]"), 400, "invalid_events");
    assertStatus(gw.ingest("{\"eventId\":\"1\",\"eventId\":\"2\"}"), 400, "malformed_json");
    assertStatus(
        gw.ingest(batch(List.of(event(m, "1").put("eventId", 42)))), 400, "invalid_events");
    assertStatus(
        gw.ingest(batch(List.of(event(m, "1").put("data", "a string")))), 400, "invalid_events");
    assertStatus(
        gw.ingest(batch(List.of(event(m, "1").put("merchantId", "has space")))),
        400,
        "invalid_events");
    assertStatus(
        gw.ingest(batch(List.of(event(m, "1").put("eventId", "")))), 400, "invalid_events");
    assertStatus(
        gw.ingest(batch(List.of(event(m, "1").put("eventId", "x".repeat(129))))),
        400,
        "invalid_events");
    // Limits: 1000 events, the request size and the data size (set to 256 KiB and 4 KiB here).
    assertStatus(
        gw.ingest(batch(IntStream.range(0, 1001).mapToObj(i -> event(m, "n" + i)).toList())),
        413,
        "too_many_events");
    assertStatus(
        gw.ingest(
            batch(
                List.of(event(m, "big").put("data", new JsonObject().put("x", "y".repeat(5000)))))),
        413,
        "event_too_large");
    assertStatus(gw.ingest("[" + "\"" + "z".repeat(300_000) + "\"]"), 413, "too_large");
    assertThat(head(m)).isZero();
    assertStatus(
        gw.send("GET", "/v1/events", TestGateway.INGEST_TOKEN, null), 405, "method_not_allowed");
    java.net.http.HttpRequest form =
        java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + gw.port + "/v1/events"))
            .header("Authorization", "Bearer " + TestGateway.INGEST_TOKEN)
            .header("Content-Type", "multipart/form-data; boundary=x")
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString("a=" + "b".repeat(100_000)))
            .build();
    assertStatus(
        java.net.http.HttpClient.newHttpClient()
            .send(form, java.net.http.HttpResponse.BodyHandlers.ofString()),
        415,
        "unsupported_media_type");
    assertThat(head(m)).isZero();
    // what curl -d sends: JSON labelled as a form, read as JSON
    java.net.http.HttpRequest curl =
        java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + gw.port + "/v1/events"))
            .header("Authorization", "Bearer " + TestGateway.INGEST_TOKEN)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .POST(
                java.net.http.HttpRequest.BodyPublishers.ofString(
                    batch(List.of(event(m, "curl"))).toString()))
            .build();
    assertThat(
            java.net.http.HttpClient.newHttpClient()
                .send(curl, java.net.http.HttpResponse.BodyHandlers.ofString())
                .statusCode())
        .isEqualTo(200);
    assertThat(head(m)).isEqualTo(1);
    assertStatus(
        gw.send("GET", "/v1/nothing-here", TestGateway.INGEST_TOKEN, null), 404, "not_found");
  }

  @Test
  void shouldExposeIngestCountsBatchSizesAndCommitLatencyAsMetrics() {
    String m = TestServices.uniqueMerchant("metrics");
    assertThat(gw.ingest(batch(List.of(event(m, "1")))).statusCode()).isEqualTo(200);
    HttpResponse<String> r = gw.send("GET", "/metrics", null, null);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body())
        .contains(
            "gateway_ingest_events_total{result=\"stored\"}",
            "gateway_ingest_group_events_count",
            "gateway_ingest_commit_seconds_count",
            "gateway_ingest_queue_events");
    HttpResponse<String> ready = gw.send("GET", "/health/ready", null, null);
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(new JsonObject(ready.body()).getString("status")).isEqualTo("ready");
    assertThat(gw.send("GET", "/health/live", null, null).statusCode()).isEqualTo(200);
  }

  static void assertStatus(HttpResponse<String> r, int status, String code) {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(status);
    assertThat(new JsonObject(r.body()).getString("error")).as(r.body()).isEqualTo(code);
  }

  static <T> T join(io.vertx.core.Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(60, TimeUnit.SECONDS).join();
  }
}
