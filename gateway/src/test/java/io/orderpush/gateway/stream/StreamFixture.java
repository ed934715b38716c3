package io.orderpush.gateway.stream;

import static org.assertj.core.api.Assertions.assertThat;

import io.orderpush.delivery.cursor.CursorStore;
import io.orderpush.gateway.Events;
import io.orderpush.gateway.TestGateway;
import io.orderpush.persistence.redis.RedisStore;
import io.orderpush.persistence.testing.TestServices;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/** Apps, grants, ingest and Redis cursors for the stream tests, all through real services. */
final class StreamFixture implements AutoCloseable {

  final TestGateway gw;
  final Vertx vertx = Vertx.vertx();
  final RedisStore redis;
  final CursorStore cursors;
  final List<UUID> apps = new ArrayList<>();

  record TestApp(UUID id, String token) {}

  StreamFixture(TestGateway gw) {
    this.gw = gw;
    this.redis = join(RedisStore.connect(vertx, TestServices.redis()));
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
                merchants.get(ThreadLocalRandom.current().nextInt(merchants.size())),
                UUID.randomUUID().toString()));
      }
      HttpResponse<String> r = gw.ingest(Events.batch(events));
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    }
  }

  long head(String merchant) {
    return join(gw.gateway.eventLog().head(gw.gateway.pool(), merchant));
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

  io.orderpush.delivery.cursor.CommitOutcome commit(
      TestApp app, String merchant, long epoch, long seq) {
    return join(cursors.commit(vertx.getOrCreateContext(), app.id(), merchant, epoch, seq));
  }

  StreamClient connect(TestApp app) {
    return StreamClient.open(vertx, gw.port, app.token());
  }

  @Override
  public void close() {
    for (UUID id : apps) {
      gw.send("DELETE", "/v1/apps/" + id, TestGateway.ADMIN_TOKEN, null);
      join(
          gw.gateway
              .pool()
              .preparedQuery("DELETE FROM apps WHERE app_id = $1")
              .execute(io.vertx.sqlclient.Tuple.of(id)));
    }
    join(redis.close(vertx));
    join(vertx.close());
  }

  static <T> T join(io.vertx.core.Future<T> f) {
    return f.toCompletionStage().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }
}
