package io.orderpush.drill;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The operator API calls the drill and the benchmarks make (admin token): create apps, grant them
 * merchants.
 */
public final class AdminClient {

  /**
   * A created app: id, bearer token, webhook secret (callback apps; both shown once by the
   * gateway).
   */
  public record App(String appId, String token, String webhookSecret) {}

  private final HttpClientAgent client;
  private final URI base;
  private final String adminToken;

  public AdminClient(HttpClientAgent client, URI base, String adminToken) {
    this.client = client;
    this.base = base;
    this.adminToken = adminToken;
  }

  /** {@code delivery}: {"mode": "websocket"} or {"mode": "callback", "url": ...}. */
  public Future<App> createApp(String name, JsonObject delivery) {
    return call(
            HttpMethod.POST,
            "/v1/apps",
            new JsonObject().put("name", name).put("delivery", delivery),
            201)
        .map(
            j -> new App(j.getString("appId"), j.getString("token"), j.getString("webhookSecret")));
  }

  /**
   * Grants {@code merchantId} to the app ({@code start}: earliest or latest); returns the grant's
   * startSeq.
   */
  public Future<Long> grant(String appId, String merchantId, String start) {
    return grant(appId, merchantId, start, List.of());
  }

  /** {@link #grant}, with scopes ({@code pii}: personal data unmasked). */
  public Future<Long> grant(String appId, String merchantId, String start, List<String> scopes) {
    return call(
            HttpMethod.PUT,
            "/v1/merchants/" + merchantId + "/grants/" + appId,
            new JsonObject().put("start", start).put("scopes", new JsonArray(scopes)),
            200)
        .map(j -> j.getLong("startSeq"));
  }

  /** Grants every merchant of the list to the app, {@code parallel} requests at a time. */
  public Future<Void> grantAll(String appId, List<String> merchants, String start, int parallel) {
    return grantAll(appId, merchants, start, List.of(), parallel);
  }

  /** {@link #grantAll}, with scopes. */
  public Future<Void> grantAll(
      String appId, List<String> merchants, String start, List<String> scopes, int parallel) {
    Promise<Void> done = Promise.promise();
    ArrayDeque<String> todo = new ArrayDeque<>(merchants);
    AtomicInteger running = new AtomicInteger();
    Runnable[] next = new Runnable[1];
    next[0] =
        () -> {
          while (running.get() < parallel && !todo.isEmpty() && !done.future().isComplete()) {
            String m = todo.poll();
            running.incrementAndGet();
            grant(appId, m, start, scopes)
                .onComplete(
                    ar -> {
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

  /**
   * The sum of the stored head seqs of an app's channels ({@code GET /v1/lag}, every page): with
   * dense seqs and a fresh database, the events committed for the app's merchants.
   */
  public Future<Long> headsTotal(String appId) {
    return lag(appId).map(items -> items.stream().mapToLong(i -> i.getLong("headSeq", 0L)).sum());
  }

  /**
   * The stored cursor of each of an app's channels ({@code GET /v1/lag}: Redis, else the
   * checkpoint).
   */
  public Future<java.util.Map<String, Long>> cursors(String appId) {
    return lag(appId)
        .map(
            items -> {
              java.util.Map<String, Long> cursors = new java.util.HashMap<>();
              items.forEach(i -> cursors.put(i.getString("merchantId"), i.getLong("cursor", 0L)));
              return cursors;
            });
  }

  /** Every channel of an app as {@code GET /v1/lag} lists it (all pages, at most 1000). */
  public Future<List<JsonObject>> lag(String appId) {
    return lagFrom(appId, null, new java.util.ArrayList<>(), 0);
  }

  private Future<List<JsonObject>> lagFrom(
      String appId, String after, List<JsonObject> items, int pages) {
    if (pages > 1000) {
      return Future.failedFuture("GET /v1/lag: more than 1000 pages");
    }
    String path =
        "/v1/lag?limit=1000&appId="
            + appId
            + (after == null
                ? ""
                : "&after="
                    + java.net.URLEncoder.encode(after, java.nio.charset.StandardCharsets.UTF_8));
    return call(HttpMethod.GET, path, new JsonObject(), 200)
        .compose(
            page -> {
              for (Object o : page.getJsonArray("items", new io.vertx.core.json.JsonArray())) {
                items.add((JsonObject) o);
              }
              String next = page.getString("next");
              return next == null
                  ? Future.succeededFuture(items)
                  : lagFrom(appId, next, items, pages + 1);
            });
  }

  private Future<JsonObject> call(HttpMethod method, String path, JsonObject body, int expected) {
    RequestOptions req =
        new RequestOptions()
            .setMethod(method)
            .setHost(base.getHost())
            .setPort(base.getPort())
            .setURI(path)
            .putHeader("Authorization", "Bearer " + adminToken)
            .putHeader("Content-Type", "application/json")
            .setTimeout(30_000);
    return client
        .request(req)
        .compose(r -> r.send(Buffer.buffer(body.encode())))
        .compose(
            resp ->
                resp.body()
                    .compose(
                        b ->
                            resp.statusCode() == expected
                                ? Future.succeededFuture(new JsonObject(b))
                                : Future.failedFuture(
                                    method
                                        + " "
                                        + path
                                        + ": HTTP "
                                        + resp.statusCode()
                                        + " "
                                        + b)));
  }
}
