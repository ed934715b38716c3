package io.orderpush.gateway.callback;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.standardwebhooks.Webhook;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestGateway;
import io.orderpush.gateway.TestRandom;
import io.orderpush.gateway.callback.Receiver.Action;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

class CallbackIT {

  static final Duration WAIT = Duration.ofSeconds(60);
  static TestGateway gw;
  Receiver receiver;
  final List<Receiver> others = new ArrayList<>();
  final List<String> apps = new ArrayList<>();
  TestRandom random;
  Random choices;

  @BeforeAll
  static void start() {
    gw =
        TestGateway.start(
            Map.of(
                "GATEWAY_CALLBACK_ALLOWLIST", "127.0.0.1",
                "GATEWAY_CALLBACK_INITIAL_BACKOFF_MS", "50",
                "GATEWAY_CALLBACK_MAX_BACKOFF_MS", "400",
                "GATEWAY_CALLBACK_REQUEST_TIMEOUT_MS", "500",
                "GATEWAY_CALLBACK_FAILING_AFTER_MS", "1000"));
  }

  @AfterAll
  static void stop() {
    gw.close();
  }

  @BeforeEach
  void receiver(TestInfo test) {
    random = TestRandom.forTest("CallbackIT." + test.getTestMethod().orElseThrow().getName());
    choices = random.fork(0);
    receiver = new Receiver();
  }

  @AfterEach
  void cleanUp() {
    NoStuckChannels.check(gw);
    receiver.close();
    others.forEach(Receiver::close);
    for (String id : apps) {
      gw.gateway
          .pool()
          .preparedQuery("DELETE FROM apps WHERE app_id = $1")
          .execute(io.vertx.sqlclient.Tuple.of(UUID.fromString(id)))
          .toCompletionStage()
          .toCompletableFuture()
          .join();
    }
  }

  String callbackApp(List<String> merchants) {
    return callbackApp(receiver, merchants).getString("appId");
  }

  /** A callback app delivering to {@code receiver}, granted these merchants from the earliest. */
  JsonObject callbackApp(Receiver receiver, List<String> merchants) {
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject()
                .put("name", "cb")
                .put(
                    "delivery", new JsonObject().put("mode", "callback").put("url", receiver.url()))
                .encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    apps.add(app.getString("appId"));
    receiver.verifier = new Webhook(app.getString("webhookSecret"));
    for (String m : merchants) {
      assertThat(
              gw.send(
                      "PUT",
                      "/v1/merchants/" + m + "/grants/" + app.getString("appId"),
                      TestGateway.ADMIN_TOKEN,
                      "{\"start\":\"earliest\"}")
                  .statusCode())
          .isEqualTo(200);
    }
    return app;
  }

  static List<String> merchants(int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(TestServices.uniqueMerchant("cb"));
    }
    return out;
  }

  void ingest(List<String> merchants, int count) {
    for (int done = 0; done < count; done += 100) {
      List<JsonObject> batch = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        batch.add(
            Events.event(
                merchants.get(choices.nextInt(merchants.size())), UUID.randomUUID().toString()));
      }
      assertThat(gw.ingest(Events.batch(batch)).statusCode()).isEqualTo(200);
    }
  }

  long head(String m) {
    return gw.gateway
        .eventLog()
        .head(gw.gateway.pool(), m)
        .toCompletionStage()
        .toCompletableFuture()
        .join();
  }

  JsonObject endpoint(String appId) {
    return new JsonObject(
        gw.send("GET", "/v1/apps/" + appId + "/endpoint", TestGateway.ADMIN_TOKEN, null).body());
  }

  boolean allApplied(List<String> merchants) {
    return allApplied(receiver, merchants);
  }

  boolean allApplied(Receiver receiver, List<String> merchants) {
    return merchants.stream().allMatch(m -> receiver.applied.getOrDefault(m, 0L) == head(m));
  }

  /** Dense, signed, and nothing sent again after a 2xx (the gateway stayed up, Redis too). */
  void assertDeliveredCleanly(Receiver receiver) {
    assertThat(receiver.violations).as(random.toString()).isEmpty();
    assertThat(receiver.resent)
        .as(
            () ->
                "sent again after a 2xx; "
                    + random
                    + "; what the first merchant named was sent: "
                    + receiver.history(receiver.resent.get(0).split(":")[0]))
        .isEmpty();
  }

  @Test
  void shouldDeliverDenseSignedBatchesThroughFailuresTimeoutsAndDrops() {
    List<String> merchants = merchants(8);
    Random rolls = random.fork(1); // the receiver's own thread
    receiver.script =
        (m, first, attempt) -> {
          int roll = rolls.nextInt(100);
          return roll < 20
              ? Action.FAIL
              : roll < 27 ? Action.TIMEOUT : roll < 34 ? Action.DROP : Action.OK;
        };
    callbackApp(merchants);
    ingest(merchants, 3000);

    Await.until(
        "every merchant applied to its head",
        WAIT,
        () -> allApplied(merchants),
        () -> receiver.applied.toString());
    assertDeliveredCleanly(receiver);
    assertThat(receiver.attemptsByBatch.values())
        .anyMatch(n -> n.get() > 1); // retries happened, same id and body
    assertThat(receiver.deliveries).allMatch(d -> d.last() - d.first() < 100);
  }

  @Test
  void shouldKeepDeliveringOtherMerchantsWhileOneMerchantsBatchFails() {
    List<String> merchants = merchants(4);
    String broken = merchants.get(0);
    receiver.script = (m, first, attempt) -> m.equals(broken) ? Action.FAIL : Action.OK;
    String app = callbackApp(merchants);
    ingest(merchants, 2000);

    List<String> healthy = merchants.subList(1, 4);
    Await.until("the healthy merchants applied", WAIT, () -> allApplied(healthy));
    assertThat(receiver.applied.getOrDefault(broken, 0L)).isZero();
    Await.until("the failing batch retried", WAIT, () -> receiver.deliveriesOf(broken).size() >= 3);
    assertThat(receiver.deliveriesOf(broken)).extracting(Receiver.Delivery::first).containsOnly(1L);
    Await.until(
        "the endpoint view to show the failures",
        WAIT,
        () -> endpoint(app).getInteger("consecutiveFailures") > 0,
        () -> endpoint(app).encode());
    assertThat(endpoint(app).getString("lastError")).isEqualTo("HTTP 500");

    receiver.script = (m, first, attempt) -> Action.OK;
    Await.until("the broken merchant catches up", WAIT, () -> allApplied(merchants));
    assertDeliveredCleanly(receiver);
  }

  /** Rounds 1 and 2 rewind to seq 0; round 3 revokes the merchant and grants it from earliest. */
  @Test
  void shouldSendWhatARewindOrANewGrantSendsAgainUnderNewIdsAndRetryItUnderTheSameId() {
    List<String> merchants = merchants(1);
    String m = merchants.get(0);
    JsonObject app = callbackApp(receiver, merchants);
    List<JsonObject> events = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      events.add(Events.event(m, UUID.randomUUID().toString()));
    }
    assertThat(gw.ingest(Events.batch(events)).statusCode()).isEqualTo(200);
    Await.until("applied", WAIT, () -> allApplied(merchants));
    long head = head(m);
    // From now on the first attempt of every batch id fails, so each is retried once.
    receiver.script = (merchant, first, attempt) -> attempt == 1 ? Action.FAIL : Action.OK;

    List<java.util.Set<String>> idsPerRound = new ArrayList<>();
    idsPerRound.add(idsOf(receiver.deliveries));
    String grant = "/v1/merchants/" + m + "/grants/" + app.getString("appId");
    for (int round = 1; round <= 3; round++) {
      int sent = receiver.deliveries.size();
      if (round < 3) {
        HttpResponse<String> rewound =
            gw.send("PUT", "/v1/channels/" + m + "/cursor", app.getString("token"), "{\"seq\":0}");
        assertThat(rewound.statusCode()).as(rewound.body()).isEqualTo(200);
      } else {
        assertThat(gw.send("DELETE", grant, TestGateway.ADMIN_TOKEN, null).statusCode())
            .isEqualTo(204);
        assertThat(
                gw.send("PUT", grant, TestGateway.ADMIN_TOKEN, "{\"start\":\"earliest\"}")
                    .statusCode())
            .isEqualTo(200);
      }
      Await.until(
          "everything sent again and answered 2xx in round " + round,
          WAIT,
          () ->
              receiver.deliveries.subList(sent, receiver.deliveries.size()).stream()
                  .anyMatch(d -> d.last() == head && receiver.answered2xxAt.containsKey(d.id())),
          () -> receiver.history(m));
      List<Receiver.Delivery> after =
          List.copyOf(receiver.deliveries.subList(sent, receiver.deliveries.size()));
      assertThat(after.get(0).first()).as("restarted from seq 1").isEqualTo(1L);
      java.util.Set<String> ids = idsOf(after);
      for (java.util.Set<String> earlier : idsPerRound) {
        assertThat(ids)
            .as("ids in round %d against an earlier round's; %s", round, receiver.history(m))
            .doesNotContainAnyElementsOf(earlier);
      }
      // each failed first attempt came again under its own id, with the same body
      for (String id : ids) {
        assertThat(after.stream().filter(d -> d.id().equals(id)).count())
            .as("attempts of " + id + receiver.history(m))
            .isGreaterThanOrEqualTo(2);
      }
      idsPerRound.add(ids);
    }
    assertThat(receiver.violations).isEmpty();
    assertThat(receiver.applied.get(m)).isEqualTo(head);
  }

  static java.util.Set<String> idsOf(List<Receiver.Delivery> deliveries) {
    return deliveries.stream()
        .map(Receiver.Delivery::id)
        .collect(java.util.stream.Collectors.toSet());
  }

  @Test
  void shouldHonourRetryAfterOnAnyAnswerThatIsRetried() {
    List<String> merchants = merchants(1);
    receiver.retryAfterSeconds = 1;
    // a 429, then a 500, both asking for a second
    receiver.script =
        (m, first, attempt) ->
            attempt == 1 ? Action.TOO_MANY : attempt == 2 ? Action.FAIL_LATER : Action.OK;
    callbackApp(merchants);
    ingest(merchants, 100);
    Await.until("applied", WAIT, () -> allApplied(merchants));
    List<Receiver.Delivery> tries = receiver.deliveriesOf(merchants.get(0));
    assertThat(tries.get(1).id()).isEqualTo(tries.get(0).id());
    assertThat(tries.get(2).id()).isEqualTo(tries.get(0).id());
    // The backoff here starts at 50 ms; each retry waited for the Retry-After of one second.
    assertThat(tries.get(1).atMillis() - tries.get(0).atMillis()).isGreaterThanOrEqualTo(950);
    assertThat(tries.get(2).atMillis() - tries.get(1).atMillis()).isGreaterThanOrEqualTo(950);
  }

  @Test
  void shouldSuspendOn410AndContinueFromTheCursorOnResume() {
    List<String> merchants = merchants(2);
    AtomicBoolean goneSent = new AtomicBoolean();
    receiver.script =
        (m, first, attempt) ->
            first > 1 && goneSent.compareAndSet(false, true) ? Action.GONE : Action.OK;
    JsonObject app = callbackApp(receiver, merchants);
    String appId = app.getString("appId");
    // A second app on the same merchants, never failing: once it has an event, the suspended app
    // would have had it too, were it not suspended.
    Receiver control = new Receiver();
    others.add(control);
    callbackApp(control, merchants);
    ingest(merchants, 100);
    Await.until("first batches applied", WAIT, () -> allApplied(merchants));
    ingest(merchants, 300);
    Await.until("suspended", WAIT, () -> "suspended".equals(endpoint(appId).getString("state")));
    Map<String, Long> headsAtSuspension = new java.util.HashMap<>();
    merchants.forEach(m -> headsAtSuspension.put(m, head(m)));
    ingest(merchants, 100);
    Await.until(
        "the other app to get the events ingested while suspended",
        WAIT,
        () -> allApplied(control, merchants));
    assertThat(
            new JsonObject(
                    gw.send("GET", "/v1/apps/" + appId, TestGateway.ADMIN_TOKEN, null).body())
                .getJsonObject("delivery")
                .getString("endpointState"))
        .isEqualTo("suspended");

    // Delivery stopped at the 410: after it, only batches already in flight then (one per other
    // channel at most), and none of the events ingested while suspended.
    List<Receiver.Delivery> before = List.copyOf(receiver.deliveries);
    int gone =
        java.util.stream.IntStream.range(0, before.size())
            .filter(i -> before.get(i).first() > 1)
            .findFirst()
            .orElseThrow();
    String goneMerchant = before.get(gone).merchantId();
    List<Receiver.Delivery> afterGone = before.subList(gone + 1, before.size());
    assertThat(afterGone)
        .as("arrived after the 410")
        .allMatch(d -> !d.merchantId().equals(goneMerchant))
        .hasSizeLessThanOrEqualTo(merchants.size() - 1);
    assertThat(before)
        .as("events ingested while suspended arrived before the resume")
        .allMatch(d -> d.last() <= headsAtSuspension.get(d.merchantId()));

    Map<String, Long> cursors = new java.util.HashMap<>();
    new JsonObject(gw.send("GET", "/v1/channels", app.getString("token"), null).body())
        .getJsonArray("channels")
        .forEach(
            o ->
                cursors.put(
                    ((JsonObject) o).getString("merchantId"), ((JsonObject) o).getLong("cursor")));
    HttpResponse<String> resumed =
        gw.send("POST", "/v1/apps/" + appId + "/endpoint/resume", TestGateway.ADMIN_TOKEN, null);
    assertThat(new JsonObject(resumed.body()).getString("state")).isEqualTo("active");
    Await.until(
        "everything applied after resume",
        WAIT,
        () -> allApplied(merchants),
        receiver.applied::toString);
    // Resumed from the cursor: each channel's first batch after the resume starts right above it.
    List<Receiver.Delivery> all = List.copyOf(receiver.deliveries);
    List<Receiver.Delivery> afterResume = all.subList(before.size(), all.size());
    for (String m : merchants) {
      if (head(m) > cursors.get(m)) {
        assertThat(afterResume.stream().filter(d -> d.merchantId().equals(m)).findFirst())
            .as("first batch of " + m + " after the resume")
            .hasValueSatisfying(d -> assertThat(d.first()).isEqualTo(cursors.get(m) + 1));
      }
    }
    assertDeliveredCleanly(receiver);
    assertDeliveredCleanly(control);
  }

  /**
   * A stored state read before this node's own suspension landed must not undo it. A 410 suspends
   * the endpoint while the suspension's write waits for a lock on the app's row, held here; a
   * change notice, as another node sends one, makes the node read the app meanwhile, and the read
   * still says "active". Following it would resume the endpoint and send the batch that got the 410
   * again.
   */
  @Test
  void shouldNotResumeOnAStoredStateReadBeforeA410sSuspensionLanded() throws Exception {
    List<String> merchants = merchants(1);
    AtomicBoolean armed = new AtomicBoolean();
    receiver.script =
        (m, first, attempt) -> armed.compareAndSet(true, false) ? Action.GONE : Action.OK;
    String appId = callbackApp(merchants);
    ingest(merchants, 100);
    Await.until("first batches applied", WAIT, () -> allApplied(merchants));
    var pg = TestServices.migratedPg();
    double received = metric("gateway_control_notices_received_total");
    double stale = metric("gateway_callback_state_stale_reads_total");
    int goneAt;
    try (java.sql.Connection holder =
        java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
      holder.setAutoCommit(false);
      try (var lock =
          holder.prepareStatement("SELECT 1 FROM apps WHERE app_id = ?::uuid FOR SHARE")) {
        lock.setString(1, appId);
        lock.executeQuery().close();
      }
      armed.set(true);
      goneAt = receiver.deliveries.size();
      ingest(merchants, 100);
      Await.until(
          "suspended here", WAIT, () -> "suspended".equals(endpoint(appId).getString("state")));
      Await.until(
          "the suspension's write to wait for the app's row", WAIT, () -> waitingOnApps(pg) > 0);
      try (var client = io.lettuce.core.RedisClient.create(TestServices.redisUrl());
          var conn = client.connect()) {
        conn.sync()
            .publish(
                "gw:control:" + TestGateway.CLUSTER,
                new JsonObject()
                    .put("origin", "another-node")
                    .put("kind", "SECRET_ROTATED")
                    .put("appId", appId)
                    .encode());
      }
      Await.until(
          "the notice to arrive",
          WAIT,
          () -> metric("gateway_control_notices_received_total") > received);
      Await.until(
          "the app read and followed, or its state ignored",
          WAIT,
          () ->
              metric("gateway_callback_state_stale_reads_total") > stale
                  || !"suspended".equals(endpoint(appId).getString("state")));
      assertThat(endpoint(appId).getString("state"))
          .as("while the suspension's write waits")
          .isEqualTo("suspended");
      holder.commit();
    }
    Await.until(
        "the suspension stored",
        WAIT,
        () ->
            "suspended"
                .equals(
                    new JsonObject(
                            gw.send("GET", "/v1/apps/" + appId, TestGateway.ADMIN_TOKEN, null)
                                .body())
                        .getJsonObject("delivery")
                        .getString("endpointState")));
    assertThat(endpoint(appId).getString("state")).isEqualTo("suspended");
    List<Receiver.Delivery> after = List.copyOf(receiver.deliveries);
    assertThat(after.size()).as("the 410 arrived").isGreaterThan(goneAt);
    assertThat(after.subList(goneAt + 1, after.size()))
        .as("sent after the 410 (the app has one merchant)")
        .isEmpty();
    assertThat(receiver.violations).isEmpty();
  }

  /**
   * A suspension stored by another node is not overwritten by this node's late write of what its
   * deliveries say. Here the other node is played by a transaction that stores the suspension and
   * holds the app's row until this node's "failing" write waits for it.
   */
  @Test
  void shouldNotOverwriteASuspensionStoredElsewhereWithALateFailingState() throws Exception {
    List<String> merchants = merchants(1);
    receiver.script = (m, first, attempt) -> Action.FAIL;
    String appId = callbackApp(merchants);
    var pg = TestServices.migratedPg();
    try (java.sql.Connection other =
        java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password())) {
      other.setAutoCommit(false);
      try (var suspend =
          other.prepareStatement(
              "UPDATE apps SET endpoint_state = 'suspended' WHERE app_id = ?::uuid")) {
        suspend.setString(1, appId);
        assertThat(suspend.executeUpdate()).isEqualTo(1);
      }
      ingest(merchants, 100);
      Await.until("failing here", WAIT, () -> "failing".equals(endpoint(appId).getString("state")));
      Await.until(
          "the failing state's write to wait for the app's row", WAIT, () -> waitingOnApps(pg) > 0);
      other.commit();
    }
    Await.until(
        "suspended here (read once its own write landed)",
        WAIT,
        () -> "suspended".equals(endpoint(appId).getString("state")),
        () -> storedEndpointState(appId));
    assertThat(storedEndpointState(appId)).isEqualTo("suspended");
  }

  String storedEndpointState(String appId) {
    return new JsonObject(gw.send("GET", "/v1/apps/" + appId, TestGateway.ADMIN_TOKEN, null).body())
        .getJsonObject("delivery")
        .getString("endpointState");
  }

  /** Statements on the apps table waiting for a lock. */
  static long waitingOnApps(io.orderpush.persistence.pg.PgSettings pg) {
    try (java.sql.Connection c =
            java.sql.DriverManager.getConnection(pg.jdbcUrl(), pg.user(), pg.password());
        var st = c.createStatement();
        var rs =
            st.executeQuery(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    + " AND wait_event_type = 'Lock' AND query ILIKE '%UPDATE apps%'")) {
      rs.next();
      return rs.getLong(1);
    } catch (java.sql.SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The sum of a metric's series on the gateway. */
  double metric(String name) {
    double sum = 0;
    boolean found = false;
    for (String line : gw.send("GET", "/metrics", null, null).body().split("\n")) {
      if (line.startsWith(name + " ") || line.startsWith(name + "{")) {
        sum += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        found = true;
      }
    }
    assertThat(found).as("series " + name).isTrue();
    return sum;
  }

  /** One look at the endpoint view: when it was asked, when answered, and the state. */
  record Poll(long sentAt, long answeredAt, String state) {}

  @Test
  void shouldMarkAnEndpointFailingAfterTheConfiguredTimeAndActiveAgainOnSuccess() {
    long failingAfter = 1000; // GATEWAY_CALLBACK_FAILING_AFTER_MS
    List<String> merchants = merchants(1);
    receiver.script = (m, first, attempt) -> Action.FAIL;
    String app = callbackApp(merchants);
    List<Poll> polls = new CopyOnWriteArrayList<>();
    ingest(merchants, 100);
    Await.until(
        "failing",
        WAIT,
        () -> {
          long sent = System.currentTimeMillis();
          String state = endpoint(app).getString("state");
          polls.add(new Poll(sent, System.currentTimeMillis(), state));
          return "failing".equals(state);
        });
    // The gateway starts counting at the first failure, which it sees only after this receiver
    // answered it: the endpoint cannot be failing before that answer + the configured time.
    long firstFailure = receiver.deliveries.get(0).atMillis();
    Poll failing = polls.get(polls.size() - 1);
    assertThat(failing.answeredAt() - firstFailure)
        .as("ms from the first failure until the view said failing (%s)", polls)
        .isGreaterThanOrEqualTo(failingAfter);
    assertThat(polls)
        .as("the view said active while the first failures came in")
        .anyMatch(p -> p.sentAt() > firstFailure && "active".equals(p.state()));
    assertThat(receiver.deliveries).as("retried meanwhile").hasSizeGreaterThan(1);
    assertThat(endpoint(app).getString("nextAttemptAt")).isNotNull();
    assertThat(endpoint(app).getString("state")).as("still failing").isEqualTo("failing");
    assertThat(receiver.applied).isEmpty();

    receiver.script = (m, first, attempt) -> Action.OK;
    Await.until(
        "active again",
        WAIT,
        () -> "active".equals(endpoint(app).getString("state")) && allApplied(merchants));
    assertDeliveredCleanly(receiver);
  }

  @Test
  void shouldSignWithBothSecretsDuringRotation() {
    List<String> merchants = merchants(1);
    String app = callbackApp(merchants);
    Webhook oldSecret = receiver.verifier;
    HttpResponse<String> r =
        gw.send("POST", "/v1/apps/" + app + "/secret/rotate", TestGateway.ADMIN_TOKEN, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    // when the old secret stops signing: as stored, by the database's clock, which every node reads
    Instant stored =
        gw.gateway
            .pool()
            .preparedQuery("SELECT previous_secret_expires_at FROM apps WHERE app_id = $1")
            .execute(io.vertx.sqlclient.Tuple.of(UUID.fromString(app)))
            .toCompletionStage()
            .toCompletableFuture()
            .join()
            .iterator()
            .next()
            .getOffsetDateTime(0)
            .toInstant();
    assertThat(Instant.parse(new JsonObject(r.body()).getString("previousSecretValidUntil")))
        .isEqualTo(stored);
    Webhook newSecret = new Webhook(new JsonObject(r.body()).getString("webhookSecret"));
    receiver.verifier = newSecret;
    ingest(merchants, 100);
    Await.until("applied", WAIT, () -> allApplied(merchants));
    assertDeliveredCleanly(receiver);
    // The old secret still verifies the same deliveries while the grace period lasts.
    receiver.verifier = oldSecret;
    ingest(merchants, 100);
    Await.until("applied again", WAIT, () -> allApplied(merchants));
    assertDeliveredCleanly(receiver);
  }

  /**
   * The rotation has committed when this node re-reads the app's secrets to sign with them; if that
   * read fails, the new secret (shown once) is still answered, and the reconcile applies it: a
   * retry would rotate again and end the grace of the secret receivers hold.
   */
  @Test
  void shouldAnswerTheCommittedSecretWhenReadingItBackFails() {
    List<String> merchants = merchants(1);
    String app = callbackApp(merchants);
    ingest(merchants, 100);
    Await.until("applied", WAIT, () -> allApplied(merchants));
    // The rotation's UPDATE reads every column but the previous secret; the re-read of the
    // secrets reads that one too, so taking its SELECT away fails the re-read and only it.
    gw.sql(
        "DO $$ DECLARE cols text; BEGIN"
            + " SELECT string_agg(quote_ident(attname), ',') INTO cols FROM pg_attribute"
            + " WHERE attrelid = 'apps'::regclass AND attnum > 0 AND NOT attisdropped"
            + " AND attname <> 'previous_secret_ciphertext';"
            + " EXECUTE format('REVOKE SELECT ON apps FROM %I', current_user);"
            + " EXECUTE format('GRANT SELECT (%s) ON apps TO %I', cols, current_user); END $$");
    HttpResponse<String> r;
    try {
      r = gw.send("POST", "/v1/apps/" + app + "/secret/rotate", TestGateway.ADMIN_TOKEN, null);
      assertThatThrownBy(() -> gw.sql("SELECT previous_secret_ciphertext FROM apps LIMIT 1"))
          .as("the re-read could not have succeeded")
          .hasMessageContaining("permission denied");
    } finally {
      gw.sql(
          "DO $$ BEGIN EXECUTE format('REVOKE SELECT ON apps FROM %I', current_user);"
              + " EXECUTE format('GRANT SELECT ON apps TO %I', current_user); END $$");
    }
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    receiver.verifier = new Webhook(new JsonObject(r.body()).getString("webhookSecret"));
    // The answered secret is the stored one: deliveries come signed with it once the reconcile
    // has read it back (the violations of deliveries before that are forgiven, and only those).
    Await.until(
        "a delivery signed with the answered secret",
        WAIT,
        () -> {
          int before = receiver.violations.size();
          ingest(merchants, 100);
          Await.until("applied", WAIT, () -> allApplied(merchants));
          List<String> fresh =
              List.copyOf(receiver.violations.subList(before, receiver.violations.size()));
          assertThat(fresh).allMatch(v -> v.startsWith("signature of"));
          receiver.violations.removeAll(fresh);
          return fresh.isEmpty();
        });
    assertDeliveredCleanly(receiver);
  }

  @Test
  void shouldRefusePrivateCallbackUrlsUnlessAllowListed() {
    // (localhost resolves to 127.0.0.1, which this gateway allow-lists; SsrfGuardTest covers
    // names.)
    for (String url :
        List.of(
            "http://10.0.0.1/x",
            "http://169.254.169.254/x",
            "http://[::1]/x",
            "http://192.168.0.1/x",
            "http://0.0.0.0:8080/x")) {
      HttpResponse<String> r =
          gw.send(
              "POST",
              "/v1/apps",
              TestGateway.ADMIN_TOKEN,
              new JsonObject()
                  .put("name", "x")
                  .put("delivery", new JsonObject().put("mode", "callback").put("url", url))
                  .encode());
      assertThat(r.statusCode()).as(url + " " + r.body()).isEqualTo(400);
      assertThat(new JsonObject(r.body()).getString("error")).isEqualTo("callback_url_refused");
    }
    // 127.0.0.1 is on this gateway's allow-list (the receiver of these tests lives there).
    callbackApp(List.of());
  }
}
