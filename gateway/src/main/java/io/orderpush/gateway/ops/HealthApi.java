package io.orderpush.gateway.ops;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.orderpush.persistence.redis.RedisStore;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;
import io.vertx.sqlclient.Pool;
import java.util.concurrent.TimeUnit;

/** Liveness, readiness (PostgreSQL and Redis both answer) and the Prometheus scrape. No auth. */
public final class HealthApi {

  static final long CHECK_TIMEOUT_MS = 1000;

  private final Vertx vertx;
  private final Pool pool;
  private final RedisStore redis;
  private final PrometheusMeterRegistry registry;
  private final java.util.function.BooleanSupplier stopping;

  /** Readiness answers 503 {@code stopping} once {@code stopping} says so (a graceful stop). */
  public HealthApi(
      Vertx vertx,
      Pool pool,
      RedisStore redis,
      PrometheusMeterRegistry registry,
      java.util.function.BooleanSupplier stopping) {
    this.vertx = vertx;
    this.pool = pool;
    this.redis = redis;
    this.registry = registry;
    this.stopping = stopping;
  }

  public void live(RoutingContext ctx) {
    ctx.response().putHeader("Content-Type", "application/json").end("{\"status\":\"live\"}");
  }

  public void ready(RoutingContext ctx) {
    if (stopping.getAsBoolean()) {
      ctx.response()
          .setStatusCode(503)
          .putHeader("Content-Type", "application/json")
          .end("{\"status\":\"stopping\"}");
      return;
    }
    Future<Void> pg =
        pool.query("SELECT 1")
            .execute()
            .<Void>mapEmpty()
            .timeout(CHECK_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    Future<Void> rd = redis.ping(vertx).timeout(CHECK_TIMEOUT_MS, TimeUnit.MILLISECONDS);
    Future.join(pg, rd)
        .onComplete(
            ignored -> {
              boolean ready = pg.succeeded() && rd.succeeded();
              JsonObject body =
                  new JsonObject()
                      .put("status", ready ? "ready" : "not_ready")
                      .put(
                          "checks",
                          new JsonObject()
                              .put("postgresql", pg.succeeded() ? "up" : "down")
                              .put("redis", rd.succeeded() ? "up" : "down"));
              ctx.response()
                  .setStatusCode(ready ? 200 : 503)
                  .putHeader("Content-Type", "application/json")
                  .end(body.encode());
            });
  }

  public void metrics(RoutingContext ctx) {
    ctx.response()
        .putHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        .end(registry.scrape());
  }
}
