package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.delivery.cursor.CursorStore;
import io.orderpush.gateway.Await;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.NoStuckChannels;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.redis.RedisStore;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Apps, grants, ingest and Redis cursors for the stream tests, all through real services.
 *
 * <p>Every random choice of a test comes from {@link #seed}: printed at the start, and set with
 * {@code -Dtest.seed=N} to replay a failure. The clients it connects are watched: {@link #until}
 * and {@link #close} fail the test with the first failure of any client's handlers.
 */
final class StreamFixture implements AutoCloseable {

  static final String SEED_PROPERTY = "test.seed";

  final TestGateway gw;
  final Vertx vertx = Vertx.vertx();
  final RedisStore redis;
  final CursorStore cursors;
  final List<UUID> apps = new ArrayList<>();
  final long seed;
  final Random random;
  private final List<StreamClient> clients = new CopyOnWriteArrayList<>();

  record TestApp(UUID id, String token) {}

  /** Seeded from {@code -Dtest.seed}, else at random. */
  StreamFixture(TestGateway gw) {
    this(gw, TestServices.redis());
  }

  /** With the cursors read from {@code redisSettings} (the Redis the gateway uses). */
  StreamFixture(TestGateway gw, io.orderpush.persistence.redis.RedisSettings redisSettings) {
    this.gw = gw;
    String fixed = System.getProperty(SEED_PROPERTY);
    this.seed = fixed != null && !fixed.isBlank() ? Long.parseLong(fixed) : new Random().nextLong();
    this.random = new Random(seed);
    System.out.printf("stream test seed %d (replay with -D%s=%d)%n", seed, SEED_PROPERTY, seed);
    this.redis = join(RedisStore.connect(vertx, redisSettings));
    this.cursors = new CursorStore(redis);
  }

  TestApp app(String mode) {
    JsonObject delivery = new JsonObject().put("mode", mode);
    if ("callback".equals(mode)) {
      delivery.put("url", "https://203.0.113.10/hook");
    }
    HttpResponse<String> r =
        gw.send(
            "POST",
            "/v1/apps",
            TestGateway.ADMIN_TOKEN,
            new JsonObject().put("name", "stream-it").put("delivery", delivery).encode());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    JsonObject app = new JsonObject(r.body());
    UUID id = UUID.fromString(app.getString("appId"));
    apps.add(id);
    return new TestApp(id, app.getString("token"));
  }

  void grant(TestApp app, String merchant) {
    HttpResponse<String> r =
        gw.send(
            "PUT",
            "/v1/merchants/" + merchant + "/grants/" + app.id(),
            TestGateway.ADMIN_TOKEN,
            "{\"start\":\"earliest\"}");
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
  }

  void revoke(TestApp app, String merchant) {
    assertThat(
            gw.send(
                    "DELETE",
                    "/v1/merchants/" + merchant + "/grants/" + app.id(),
                    TestGateway.ADMIN_TOKEN,
                    null)
                .statusCode())
        .isEqualTo(204);
  }

  List<String> merchants(String prefix, int n) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(TestServices.uniqueMerchant(prefix));
    }
    return out;
  }

  /** Ingests {@code count} events spread at random over {@code merchants}, in batches. */
  void ingest(List<String> merchants, int count, int batch) {
    for (int done = 0; done < count; ) {
      List<JsonObject> events = new ArrayList<>();
      for (int i = 0; i < batch && done < count; i++, done++) {
        events.add(
            Events.event(
                merchants.get(random.nextInt(merchants.size())), UUID.randomUUID().toString()));
      }
      HttpResponse<String> r = gw.ingest(Events.batch(events));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
  }

  long head(String merchant) {
    return join(gw.gateway.eventLog().head(gw.gateway.pool(), merchant));
  }

  /** The channel's cursor checkpoint in PostgreSQL, -1 if none. */
  long checkpoint(TestApp app, String merchant) {
    var rows =
        join(
            gw.gateway
                .pool()
                .preparedQuery(
                    "SELECT cursor FROM cursor_checkpoints WHERE app_id = $1 AND merchant_id = $2")
                .execute(io.vertx.sqlclient.Tuple.of(app.id(), merchant)));
    return rows.size() == 0 ? -1 : rows.iterator().next().getLong(0);
  }

  long cursor(TestApp app, String merchant) {
    return join(cursors.cursor(vertx.getOrCreateContext(), app.id(), merchant));
  }

  long epoch(TestApp app, String merchant) {
    return Long.parseLong(
        join(
            redis.call(
                vertx.getOrCreateContext(),
                c -> c.hget("gw:ch:{" + app.id() + ":" + merchant + "}", "epoch"))));
  }

  /** The channel hash's time to live in ms: -1 none, -2 no hash. */
  long pttl(TestApp app, String merchant) {
    return join(
        redis.call(
            vertx.getOrCreateContext(), c -> c.pttl("gw:ch:{" + app.id() + ":" + merchant + "}")));
  }

  /** A field of the channel hash, null if absent. */
  String field(TestApp app, String merchant, String field) {
    return join(
        redis.call(
            vertx.getOrCreateContext(),
            c -> c.hget("gw:ch:{" + app.id() + ":" + merchant + "}", field)));
  }

  io.orderpush.delivery.cursor.CommitOutcome commit(
      TestApp app, String merchant, long epoch, long seq) {
    return join(cursors.commit(vertx.getOrCreateContext(), app.id(), merchant, epoch, seq));
  }

  StreamClient connect(TestApp app) {
    return watch(StreamClient.open(vertx, gw.port, app.token()));
  }

  /** Connects to {@code port} (the gateway's, or a proxy's in front of it), watched. */
  StreamClient connect(
      TestApp app,
      int port,
      BiConsumer<String, JsonArray> onEvents,
      Consumer<List<String>> onAssigned) {
    return connect(port, app.token(), onEvents, onAssigned);
  }

  /** As {@link #connect(TestApp, int, BiConsumer, Consumer)}, with {@code token}. */
  StreamClient connect(
      int port,
      String token,
      BiConsumer<String, JsonArray> onEvents,
      Consumer<List<String>> onAssigned) {
    return watch(join(StreamClient.connect(vertx, port, token, onEvents, onAssigned)));
  }

  StreamClient watch(StreamClient client) {
    clients.add(client);
    return client;
  }

  /** Fails with the first failure recorded in the handlers of any client this fixture connected. */
  void checkClients() {
    clients.forEach(StreamClient::check);
  }

  /** {@link Await#until}, failing at once with a client's handler failure instead of timing out. */
  void until(String what, Duration timeout, BooleanSupplier condition) {
    until(what, timeout, condition, () -> "");
  }

  void until(String what, Duration timeout, BooleanSupplier condition, Supplier<String> state) {
    Await.until(
        what,
        timeout,
        () -> {
          checkClients();
          return condition.getAsBoolean();
        },
        () -> state.get() + " (seed " + seed + ")");
  }

  @Override
  public void close() {
    NoStuckChannels.check(gw);
    for (UUID id : apps) {
      gw.send("DELETE", "/v1/apps/" + id, TestGateway.ADMIN_TOKEN, null);
      join(
          gw.gateway
              .pool()
              .preparedQuery("DELETE FROM apps WHERE app_id = $1")
              .execute(io.vertx.sqlclient.Tuple.of(id)));
    }
    forgetCursors();
    join(redis.close(vertx));
    join(vertx.close());
    // Last, once everything is cleaned up: a handler failure no assertion of the test looked at.
    checkClients();
  }

  /**
   * Removes the apps' cursor hashes from Redis before the gateway stops: the gateway's own sweep
   * after a delete may not finish first, and the shared Redis would keep them for good (a run of
   * {@code StreamScaleIT} alone leaves 20,000; every later sweep walks past them). Best effort: a
   * failure is printed, not thrown, as it says nothing about the test.
   */
  private void forgetCursors() {
    if (apps.isEmpty()) {
      return;
    }
    io.vertx.core.Context ctx = vertx.getOrCreateContext();
    java.util.concurrent.CompletableFuture<Long> removed =
        new java.util.concurrent.CompletableFuture<>();
    ctx.runOnContext(
        v ->
            cursors
                .forgetApps(ctx, java.util.Set.copyOf(apps))
                .onSuccess(removed::complete)
                .onFailure(removed::completeExceptionally));
    try {
      removed.get(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      System.err.println("could not remove the test apps' cursor hashes from Redis: " + e);
    }
  }

  /** Grants the app merchants {@code prefix-1} to {@code prefix-n}, in one statement. */
  void grantRange(TestApp app, String prefix, int n) {
    join(
        gw.gateway
            .pool()
            .preparedQuery(
                "INSERT INTO grants (app_id, merchant_id, start_seq) SELECT $1, $2 || '-' || i, 0 FROM generate_series(1, $3) i")
            .execute(io.vertx.sqlclient.Tuple.of(app.id(), prefix, n)));
  }

  static <T> T join(io.vertx.core.Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }
}
