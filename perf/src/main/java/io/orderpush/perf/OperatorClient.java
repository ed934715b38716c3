package io.orderpush.perf;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The operator API calls a stream benchmark needs: create a websocket app, grant it merchants.
 * Uses the admin token.
 */
final class OperatorClient {

  /** What {@code POST /v1/apps} answered: the id and the app's bearer token (shown only once). */
  record App(String appId, String token) {}

  private final HttpClientAgent client;
  private final URI base;
  private final String adminToken;

  OperatorClient(HttpClientAgent client, URI base, String adminToken) {
    this.client = client;
    this.base = base;
    this.adminToken = adminToken;
  }

  Future<App> createApp(String name) {
    JsonObject body = new JsonObject().put("name", name).put("delivery", new JsonObject().put("mode", "websocket"));
    return call(HttpMethod.POST, "/v1/apps", body, 201)
        .map(json -> new App(json.getString("appId"), json.getString("token")));
  }

  /** Grants {@code merchantId} to the app; returns the grant's startSeq. */
  Future<Long> grant(String appId, String merchantId, String start) {
    return call(HttpMethod.PUT, "/v1/merchants/" + merchantId + "/grants/" + appId,
        new JsonObject().put("start", start), 200)
        .map(json -> json.getLong("startSeq"));
  }

  /** Grants every merchant of the list, {@code parallel} requests at a time. */
  Future<Void> grantAll(String appId, List<String> merchants, String start, int parallel) {
    Promise<Void> done = Promise.promise();
    ArrayDeque<String> todo = new ArrayDeque<>(merchants);
    AtomicInteger running = new AtomicInteger();
    Runnable[] next = new Runnable[1];
    next[0] = () -> {
      while (running.get() < parallel && !todo.isEmpty() && !done.future().isComplete()) {
        String m = todo.poll();
        running.incrementAndGet();
        grant(appId, m, start).onComplete(ar -> {
          running.decrementAndGet();
          if (ar.failed()) {
            done.tryFail(ar.cause());
          } else if (todo.isEmpty() && running.get() == 0) {
            done.tryComplete();
          } else {
            next[0].run();
          }
        });
      }
    };
    if (merchants.isEmpty()) {
      done.complete();
    } else {
      next[0].run();
    }
    return done.future();
  }

  private Future<JsonObject> call(HttpMethod method, String path, JsonObject body, int expected) {
    RequestOptions req = new RequestOptions()
        .setMethod(method)
        .setHost(base.getHost())
        .setPort(base.getPort())
        .setURI(path)
        .putHeader("Authorization", "Bearer " + adminToken)
        .putHeader("Content-Type", "application/json")
        .setTimeout(TimeUnit.SECONDS.toMillis(30));
    return client.request(req)
        .compose(r -> r.send(Buffer.buffer(body.encode())))
        .compose(resp -> resp.body().compose(b -> resp.statusCode() == expected
            ? Future.succeededFuture(new JsonObject(b))
            : Future.failedFuture(method + " " + path + ": HTTP " + resp.statusCode() + " " + b)));
  }
}
