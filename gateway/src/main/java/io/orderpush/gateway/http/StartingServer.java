package io.orderpush.gateway.http;

import io.orderpush.gateway.config.HttpConfig;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * What the node answers on its port while it starts, before the real server listens: schema
 * migrations (which can take minutes, V16's copy of the audit trail took longer), connecting to
 * PostgreSQL and Redis, recovery. {@code GET /health/live} answers 200 {@code
 * {"status":"starting"}} (the process is alive and working: a liveness check that killed it now
 * would roll a migration back and start it over); {@code /health/ready} and everything else 503
 * {@code starting}, with {@code Retry-After}. Closed right before the real server binds the port.
 */
public final class StartingServer {

  private static final String STARTING = "{\"status\":\"starting\"}";

  private final Vertx vertx;

  private StartingServer(Vertx vertx) {
    this.vertx = vertx;
  }

  /**
   * Listens on the gateway's host and port, on a Vert.x instance of its own (one event loop), apart
   * from the gateway's contexts; fails as the real server would if the port is taken.
   */
  public static Future<StartingServer> open(HttpConfig http) {
    Vertx vertx =
        Vertx.vertx(
            new io.vertx.core.VertxOptions()
                .setEventLoopPoolSize(1)
                .setWorkerPoolSize(1)
                .setInternalBlockingPoolSize(1));
    return vertx
        .createHttpServer(
            new HttpServerOptions()
                .setHost(http.host())
                .setPort(http.port())
                .setIdleTimeout(30)
                .setMaxHeaderSize(16 * 1024)
                // as the real server (HttpVerticle): no cleartext HTTP/2 upgrade
                .setHttp2ClearTextEnabled(false))
        .requestHandler(StartingServer::answer)
        .listen()
        .<StartingServer>map(server -> new StartingServer(vertx))
        .recover(err -> vertx.close().transform(v -> Future.failedFuture(err)));
  }

  private static void answer(HttpServerRequest request) {
    var response =
        request
            .response()
            .putHeader("Content-Type", "application/json")
            .putHeader(AccessLog.HEADER, AccessLog.idFor(request.getHeader(AccessLog.HEADER)));
    String path = request.path();
    if ("/health/live".equals(path)) {
      response.end(STARTING);
    } else if ("/health/ready".equals(path)) {
      response.setStatusCode(503).putHeader("Retry-After", "5").end(STARTING);
    } else {
      response
          .setStatusCode(503)
          .putHeader("Retry-After", "5")
          .end(
              new JsonObject()
                  .put("error", "unavailable")
                  .put("message", "the gateway is starting; retry later")
                  .put("details", new JsonArray())
                  .encode());
    }
  }

  /** Stops listening (connections still open are closed) and releases its Vert.x. */
  public Future<Void> close() {
    return vertx.close();
  }
}
