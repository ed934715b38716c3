package io.orderpush.gateway.http;

import io.orderpush.gateway.config.HttpConfig;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.ext.web.Router;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** One HTTP server instance; several share the port, one per event loop. */
public final class HttpVerticle extends VerticleBase {

  private final HttpConfig config;
  private final Function<io.vertx.core.Vertx, Router> routes;
  private HttpServer server;

  /**
   * WebSocket upgrades reach the router like any request ({@link Upgrade}), so that a refused one
   * gets the same JSON error and headers as the rest of the API.
   */
  public HttpVerticle(HttpConfig config, Function<io.vertx.core.Vertx, Router> routes) {
    this.config = config;
    this.routes = routes;
  }

  @Override
  public Future<?> start() {
    server =
        vertx.createHttpServer(
            new HttpServerOptions()
                .setHost(config.host())
                .setPort(config.port())
                .setIdleTimeout(120)
                .setIdleTimeoutUnit(TimeUnit.SECONDS)
                .setMaxHeaderSize(16 * 1024)
                .setCompressionSupported(false)
                // HTTP/1.1 and WebSocket only: no cleartext upgrade to HTTP/2 ("h2c", deprecated
                // by RFC 9113). The JDK's HttpClient asks for it on every first request over
                // http://, and an upgraded connection once stalled a request until the idle
                // timeout (IngestAdmissionIT, a GET /metrics never seen by a handler in 120 s).
                .setHttp2ClearTextEnabled(false)
                // Clients only send small acks; a larger frame or message closes with 1009.
                .setMaxWebSocketFrameSize(config.maxClientWebSocketMessageBytes())
                .setMaxWebSocketMessageSize(config.maxClientWebSocketMessageBytes())
                // The nodes' commit feed sends its ingest batches unmasked (CommitFeed): masking
                // guards proxies against bytes a browser's script chose, which a node's batches
                // are not, and unmasking them took the writer a sixth of its Java samples. Apps'
                // clients mask their frames as RFC 6455 asks, and they are read as before.
                .setAcceptUnmaskedFrames(true));
    return server.requestHandler(routes.apply(vertx)).listen();
  }

  /** Stops accepting, then waits up to the grace period for requests in flight. */
  @Override
  public Future<?> stop() {
    return server.shutdown(config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS);
  }

  public int actualPort() {
    return server.actualPort();
  }
}
