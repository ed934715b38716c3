package io.orderpush.gateway.http;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.ext.web.handler.PlatformHandler;
import java.util.concurrent.TimeUnit;

/** Times every request of a route, tagged by route name and status class. */
public final class RequestMetrics {

  private final MeterRegistry registry;

  public RequestMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  /** A first handler for the route called {@code name}. */
  public PlatformHandler route(String name) {
    return ctx -> {
      long start = System.nanoTime();
      AccessLog.matched(ctx);
      Runnable record =
          () ->
              Timer.builder("gateway.http.requests")
                  .description("HTTP requests by route and status class")
                  .tag("route", name)
                  .tag("status", (ctx.response().getStatusCode() / 100) + "xx")
                  .register(registry)
                  .record(System.nanoTime() - start, TimeUnit.NANOSECONDS);
      ctx.addEndHandler(v -> record.run());
      if (Upgrade.requested(ctx)) {
        // an accepted upgrade (1xx) never ends; a refused one ends like any answer
        Upgrade.whenAccepted(ctx, record);
      }
      ctx.next();
    };
  }
}
